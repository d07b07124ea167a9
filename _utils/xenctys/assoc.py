"""Which config file each running DomU was started from.

Neither ``xl list`` nor ``xl list -l`` names the config file (ctys had the same problem and
invented a naming convention, spec §2.3).  So ``xen.create`` records it here, with who started
the domain and the Salt job, and LIST reads it back.  One small JSON file per host.
"""

import json
import os
import time

from xenctys.fsutil import atomic_write


class AssociationStore:
    """label -> {config, uuid, user, group, jid, created} in a JSON file written atomically."""

    def __init__(self, path):
        self.path = path

    def load(self):
        """The whole mapping; an absent or damaged file reads as empty (it is only a hint)."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def record(self, label, config, uuid="", user="", group="", jid=""):
        data = self.load()
        data[label] = {
            "config": config,
            "uuid": uuid,
            "user": user,
            "group": group,
            "jid": jid,
            "created": time.time(),
        }
        return self._save(data)

    def forget(self, label):
        data = self.load()
        if data.pop(label, None) is not None:
            self._save(data)

    def _save(self, data):
        """Write the file; False when it cannot be (disk full, read-only): the mapping is only a
        hint, and a DomU that was just started must not be reported as failed because of it."""
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"))
        except OSError:
            return False
        return True
