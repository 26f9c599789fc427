"""Deprecated alias of :mod:`spinml.notebook_report`."""

from spinml._deprecated import moved

moved(__name__, "spinml.notebook_report")
