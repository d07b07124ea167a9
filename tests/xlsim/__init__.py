"""xlsim: a simulated Xen host, driven through executables invoked exactly like the real tools.

``tests/xlsim/xl`` (and ``xenstore-read``, ``xenstore-ls`` beside it) print what Xen 4.17's
tools print (``corpus/xl-real``, line by line, errors and exit codes included) and keep the
host's state in a JSON file in the directory named by ``XLSIM_STATE``.  Tests drive it through
:mod:`xlsim.control`; the code under test only ever sees the executables on its PATH.

Modules: ``hoststate`` (state file, lock, domains, time and faults), ``render`` (the output
formats), ``xlcmd`` (the xl subcommands), ``xenstorecmd`` (the xenstore tools), ``control``
(the API for tests).
"""
