from harness.cli import main_entry

main_entry()
