# tst100 must be off (graceful shutdown, destroyed after 60 s)
tst100-off:
  xen.poweroff:
    - name: tst100
    - timeout: 60
