"""Deprecated alias of :mod:`spinml.federated.aggregators`."""

from spinml._deprecated import moved

moved(__name__, "spinml.federated.aggregators")
