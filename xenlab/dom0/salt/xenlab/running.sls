# tst100 must run (started from its config when it does not)
tst100:
  xen.running: []
