# Makes "python3 -m unittest test/test_emulator.py" import this directory instead of the
# standard library's "test" package.
