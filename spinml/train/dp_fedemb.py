"""Deprecated alias of :mod:`spinml.federated.dp_fedemb`."""

from spinml._deprecated import moved

moved(__name__, "spinml.federated.dp_fedemb")
