"""TensorBoard writing: the run's logger, the tags of its metrics, and the HParams tab."""
