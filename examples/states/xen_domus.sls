# DomUs declared with the xen states (salt-run state.apply xen_domus, or in a highstate).
# A name is a label or any ctys machine address (p:, f:, l:, u:, m:, t:).

tst100:
  xen.running:
    - console: vnc            # the result names the VNC port, viewer and ssh -L tunnel command

lab-tests:
  xen.poweroff:
    - names:
      - l:tst101
      - u:6842caf91e3e43249ed596b8b9f2c5c6   # tst104, by UUID
    - timeout: 60             # graceful shutdown gets 60 s ...
    - force: True             # ... then the domain is destroyed
