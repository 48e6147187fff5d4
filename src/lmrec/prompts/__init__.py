"""Prompt templates kept as data, and their rendering."""

from lmrec.prompts.templates import Template, TemplateSet, load_templates

__all__ = ["Template", "TemplateSet", "load_templates"]
