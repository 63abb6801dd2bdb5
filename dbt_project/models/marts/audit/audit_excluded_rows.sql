-- Published for auditors as audit.excluded_rows (see _audit__models.yml).
{{ config(alias='excluded_rows') }}

select * from {{ ref('int_excluded_rows_unioned') }}
