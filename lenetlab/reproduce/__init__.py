"""``python -m lenetlab.reproduce``: run the lab reports' studies and compare every claim with lenetlab's value.

``studies`` runs (or resumes, or skips) each study through lenetlab's own commands, ``results`` reads what
they wrote, ``checks`` holds one function per kind of claim, ``claims`` applies the claims table
(``lenetlab/conf/reports/``) to the results, ``paper`` writes ``claims.csv``, ``REPRODUCTION.md`` and the figures,
``__main__`` is the command line.
"""
