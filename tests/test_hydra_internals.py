"""Fails if Hydra changes what lenetlab.config.hydra_internals takes from its private modules."""

from lenetlab.config.hydra_internals import hydra_arguments


def test_hydras_command_line_reading_is_what_the_checks_expect():
    args = hydra_arguments(["-m", "--config-dir", "mine", "--config-name", "search", "a=1", "b=x,y"])
    assert (args.multirun, args.config_dir, args.config_name, args.overrides) == (
        True,
        "mine",
        "search",
        ["a=1", "b=x,y"],
    )
    assert not any((args.help, args.hydra_help, args.info, args.shell_completion, args.experimental_rerun))
    assert hydra_arguments(["--cfg", "job"]).cfg == "job" and hydra_arguments(["--info"]).info
