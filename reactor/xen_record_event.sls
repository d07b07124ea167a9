{#-
  Record every DomU event of the xen beacon in one file on the master, one line each:

      2026-11-25T21:25:11.123456+00:00 lab00 tst100 domid=7 running -> crashed (state)

  Wired in the master config (see reactor/README.md):
      reactor:
        - 'salt/beacon/*/xen/*/*':
          - salt://reactor/xen_record_event.sls

  The file is the master option ``xen_event_log`` (default /var/log/salt/xen-domu-events.log).
  Why cmd.run and not file.append: file.append (and file.line) fail while the file does not
  exist, and two reactions of one event run in parallel, so "touch, then append" would race.
  The shell's ``>>`` creates the file and appends with O_APPEND (lines of simultaneous events do
  not interleave).  The line and the path reach the shell as environment variables, never as
  command text: whatever a minion puts in its event data cannot become a command.
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
      - fun: cmd.run
      - cmd: 'printf "%s\n" "$XEN_EVENT" >> "$XEN_EVENT_LOG"'
      - python_shell: true
      - env:
          XEN_EVENT: {{ line | yaml_dquote }}
          XEN_EVENT_LOG: {{ path | yaml_dquote }}
