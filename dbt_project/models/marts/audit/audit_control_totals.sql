-- Published for auditors as audit.control_totals (see _audit__models.yml).
{{ config(alias='control_totals') }}

select * from {{ ref('stg_landing__control_totals') }}
