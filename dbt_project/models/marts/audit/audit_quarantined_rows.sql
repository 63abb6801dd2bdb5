-- Published for auditors as audit.quarantined_rows (see _audit__models.yml).
{{ config(alias='quarantined_rows') }}

select * from {{ ref('stg_landing__quarantined_rows') }}
