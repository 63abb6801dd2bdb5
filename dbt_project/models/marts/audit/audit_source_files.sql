-- Published for auditors as audit.source_files (see _audit__models.yml).
{{ config(alias='source_files') }}

select * from {{ ref('stg_landing__source_files') }}
