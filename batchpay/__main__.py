"""``python -m batchpay``: the same command as ``batchpay``."""

from batchpay.cli import main

main(prog_name="batchpay")
