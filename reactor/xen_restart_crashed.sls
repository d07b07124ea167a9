{#-
  Start again a DomU that the xen beacon saw crash.

  Wired in the master config (see reactor/README.md):
      reactor:
        - 'salt/beacon/*/xen/*/crashed':
          - salt://reactor/xen_restart_crashed.sls

  The state xen.running on the DomU's own minion does the work: a crashed domain still holds
  its name, so it destroys it first, then creates it again from its config (and reports
  "already running" if someone was quicker).  The data comes from a minion: the label is only
  used when it looks like a Xen domain name, and always quoted.
-#}
{%- set label = data.get('label', '') | string %}
{%- if data.get('new_state') == 'crashed' and label is match('^[A-Za-z0-9][A-Za-z0-9_.+-]*$') %}
xen_restart_crashed_{{ label }}:
  local.state.single:
    - tgt: [{{ data['id'] | yaml_dquote }}]
    - tgt_type: list
    - args:
      - fun: xen.running
      - name: {{ ('l:' ~ label) | yaml_dquote }}
{%- endif %}
