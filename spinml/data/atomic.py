"""Deprecated alias of :mod:`spinml.io`."""

from spinml._deprecated import moved

moved(__name__, "spinml.io")
