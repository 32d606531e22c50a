"""``python -m lenetlab.evaluate``: trained models scored (:mod:`lenetlab.evaluate.scores`), and their figure
(:mod:`lenetlab.evaluate.figure`)."""
