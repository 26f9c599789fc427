"""Deprecated alias of :mod:`spinml.federated.flower`."""

from spinml._deprecated import moved

moved(__name__, "spinml.federated.flower")
