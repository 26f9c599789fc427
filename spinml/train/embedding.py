"""Deprecated alias of :mod:`spinml.federated.embedding`."""

from spinml._deprecated import moved

moved(__name__, "spinml.federated.embedding")
