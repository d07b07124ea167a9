{#-
  Record every DomU event of the xen beacon in one file on the master, one line each:

      2026-11-25T21:25:11.123456 lab00 tst100 domid=7 running -> crashed (state)

  Wired in the master config (see reactor/README.md):
      reactor:
        - 'salt/beacon/*/xen/*/*':
          - salt://reactor/xen_record_event.sls

  The file is the master option ``xen_event_log`` (default /var/log/salt/xen-domu-events.log);
  file.line creates it when missing.  Values come from a minion: quoted, newlines removed.
-#}
{%- set path = opts.get('xen_event_log', '/var/log/salt/xen-domu-events.log') %}
{%- set fields = [data.get('_stamp', ''), data.get('id', ''), data.get('label', ''),
                  'domid=' ~ data.get('domid', ''),
                  data.get('old_state', '') ~ ' -> ' ~ data.get('new_state', ''),
                  '(' ~ data.get('change', '') ~ ')'] %}
{%- set line = fields | join(' ') | replace('\n', ' ') | replace('\r', ' ') %}
xen_record_domu_event:
  runner.salt.cmd:
    - args:
      - fun: file.line
      - path: {{ path | yaml_dquote }}
      - content: {{ line | yaml_dquote }}
      - mode: insert
      - location: end
      - create: true
      - show_changes: false
