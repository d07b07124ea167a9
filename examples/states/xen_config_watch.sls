# A DomU whose config file Salt manages: when the file changes, the watch restarts the DomU
# (graceful shutdown, then xl create), because xl reads the config only at create time.

/etc/xen/tst104.cfg:
  file.managed:
    - source: salt://xen/files/tst104.cfg
    - template: jinja

tst104:
  xen.running:
    - watch:
      - file: /etc/xen/tst104.cfg
    - timeout: 60             # used by the restart: seconds the guest gets to shut down
