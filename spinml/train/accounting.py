"""Deprecated alias of :mod:`spinml.federated.accounting`."""

from spinml._deprecated import moved

moved(__name__, "spinml.federated.accounting")
