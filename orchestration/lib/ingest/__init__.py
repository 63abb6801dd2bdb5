"""The ingestion engine: landing files in, typed rows + quarantine + audit trail out.

One engine, driven by the declarative mapping (:mod:`orchestration.lib.mapping`), handles every
file of the landing contract:

1. **discover** every file under ``<raw>/<year>/<street_code>/`` (anything else is reported);
2. **read** it into text sheets (:mod:`orchestration.lib.readers`), rejecting unusable files;
3. **recognise** the report kind and the header row of each sheet by matching header cells
   against the canonical headers and synonyms (file-name hints break ties);
4. **classify** rows: data, blank, 合计/小计 control totals, 填表人-style trailers;
5. **parse** every value spelling (:mod:`orchestration.lib.values`), scale units, validate
   identifiers and dates, hash identity numbers with a keyed HMAC and drop names and phones;
6. split rows into **loaded** and **quarantined** (with file, sheet, row and reason);
7. resolve **resubmissions** (修订/更正/_v2 supersede the same street, kind and period);
8. **write** the ``raw`` schema of the working DuckDB database for the streets in scope.

De-duplication on natural keys and cross-street member attribution are done downstream in dbt
(``int_*_deduplicated``), so every source row stays visible in ``raw`` for auditors.

The package, in import order (each module imports only those before it):

- :mod:`~orchestration.lib.ingest.keys`: the PII key and keyed hashing;
- :mod:`~orchestration.lib.ingest.periods`: periods and resubmission versions from names;
- :mod:`~orchestration.lib.ingest.results`: :class:`~orchestration.lib.ingest.results.FileResult`
  and the layouts found in a sheet;
- :mod:`~orchestration.lib.ingest.headers`: header row and report kind of a sheet (step 3);
- :mod:`~orchestration.lib.ingest.sheets`: one sheet into rows, quarantine and control totals
  (steps 4 to 6);
- :mod:`~orchestration.lib.ingest.files`: one file (steps 1, 2 and 7; what a worker runs);
- :mod:`~orchestration.lib.ingest.warehouse`: the ``raw`` schema and writing it (step 8);
- :mod:`~orchestration.lib.ingest.fingerprints`: what changed since the last ingestion;
- :mod:`~orchestration.lib.ingest.run`: :func:`ingest`, one pass over the landing root.

Only the entry points used by the rest of the code base are re-exported here; everything else
is imported from the module that defines it.
"""

from orchestration.lib.ingest.run import IngestReport, ingest
from orchestration.lib.ingest.warehouse import AUDIT_TABLES

__all__ = ["AUDIT_TABLES", "IngestReport", "ingest"]
