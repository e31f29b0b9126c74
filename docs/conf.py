"""Sphinx settings of the docs site: the one place for them (`make docs` runs tools/build_docs.py).

The sources are not in this folder: tools/build_docs.py stages them (tools/docs_stage.py: the notebooks with
nbdev's directives applied, and API stubs) and runs Sphinx with this folder as its configuration folder.
Notebooks show their saved outputs (nothing is executed); math is typeset by a local copy of MathJax (the
sphinx-mathjax-offline package's files), and nothing is fetched from outside the site: the furo theme bundles
its assets, and the ipywidgets JavaScript (a CDN) is switched off.
"""
from __future__ import annotations

import configparser
import importlib.util
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
_meta = configparser.ConfigParser(interpolation=None)
_meta.read(ROOT / 'settings.ini')
_meta = _meta['DEFAULT']

project = _meta['lib_name']
author = _meta['author']
copyright = _meta['copyright']
release = version = _meta['version']

extensions = ['myst_nb', 'sphinx.ext.autodoc', 'sphinx.ext.mathjax']
exclude_patterns = ['_repo', '**/.ipynb_checkpoints']
default_role = 'py:obj'          # `name` in docstrings: a link when it names a documented object, else code
add_module_names = False
maximum_signature_line_length = 100   # longer signatures get one parameter per line

# -- notebooks (myst-nb) ------------------------------------------------------------------------------------
nb_execution_mode = 'off'        # the saved outputs, as the notebooks were last run
nb_ipywidgets_js = {}            # no require.js / widget manager from a CDN (tools/docs_stage.py drops widgets)
nb_merge_streams = True
myst_enable_extensions = ['dollarmath', 'amsmath', 'html_image']
myst_heading_anchors = 3
suppress_warnings = ['mystnb.unknown_mime_type',
                     'misc.highlighting_failure']   # `!shell` lines in python cells

# -- API (autodoc) ------------------------------------------------------------------------------------------
autodoc_member_order = 'bysource'
autodoc_preserve_defaults = True  # `floor=FLOOR`, not its value
autodoc_typehints = 'signature'

# -- HTML ---------------------------------------------------------------------------------------------------
_mathjax = Path(importlib.util.find_spec('sphinx-mathjax-offline').origin).parent / 'static'
html_theme = 'furo'
html_title = project
html_static_path = [str(HERE / '_static'), str(_mathjax)]   # the latter holds mathjax/ (MathJax 3, 24 MB)
html_css_files = ['hephaestus.css']
mathjax_path = 'mathjax/tex-chtml.js'                        # relative: served from _static/
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None


_CODE_RE = re.compile(r'`([^`]+)`')


def _rst(text: str) -> str:
    "nbdev docstrings are markdown-ish text: make one line safe reST (`|x|`, `word_`, `code with spaces`)."
    def plain(t: str) -> str: return re.sub(r'(\w)_(?!\w)', r'\1\\_', t.replace('|', r'\|'))
    def code(m) -> str:
        c = m[1].strip()
        return f'``{c}``' if re.search(r'[\s<>]', c) else f'`{c}`'
    parts, last = [], 0
    for m in _CODE_RE.finditer(text):
        parts += [plain(text[last:m.start()]), code(m)]
        last = m.end()
    return ''.join(parts + [plain(text[last:])])


def _docments(app, what, name, obj, options, lines):
    "Docstrings made reST-safe, with the nbdev-style parameter comments (fastcore's `docments`) as :param: fields."
    lines[:] = [_rst(l) for l in lines]
    if what not in ('function', 'method', 'class'): return
    from fastcore.docments import docments
    try:
        docs = docments(obj, full=True)
    except Exception:   # builtins, C functions, objects without source
        return
    have = '\n'.join(lines)
    fields = []
    for k, v in docs.items():
        doc = (v.get('docment') or '').strip()
        if not doc or k == 'self': continue
        if k == 'return':
            if ':returns:' not in have and ':return:' not in have: fields.append(f':returns: {_rst(doc)}')
        elif f':param {k}:' not in have:
            fields.append(f':param {k}: {_rst(doc)}')
    if fields: lines.extend([''] + fields)


def _nb_output_folder(app):
    "myst-nb writes the outputs' pictures to OUT/../jupyter_execute (beside _docs/!): keep them by Sphinx's cache."
    app.env.mystnb_config = app.env.mystnb_config.copy(
        output_folder=str(Path(app.doctreedir).resolve().parent / 'jupyter_execute'))


def setup(app):
    app.connect('autodoc-process-docstring', _docments)
    app.connect('builder-inited', _nb_output_folder, priority=900)   # after myst-nb's own (500)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
