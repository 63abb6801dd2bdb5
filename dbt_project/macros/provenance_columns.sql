{#- The provenance columns every landing table carries (see _landing__sources.yml), cast to
    their contract types; the same list in every staging model of a report kind. -#}
{% macro landing_provenance_columns() -%}
    cast(_period_label as varchar) as _period_label,
    cast(_period_end as date) as _period_end,
    cast(_superseded_by as varchar) as _superseded_by,
    cast(_source_file as varchar) as _source_file,
    cast(_source_sheet as varchar) as _source_sheet,
    cast(_source_row as integer) as _source_row,
    cast(_file_sha256 as varchar) as _file_sha256,
    cast(_run_id as varchar) as _run_id,
    cast(_ingested_at as timestamp) as _ingested_at
{%- endmacro %}

{#- The provenance columns every fct_ model carries to the mart, in this order: where each row
    came from (period, file, sheet, row, file hash, run, ingestion time) and how many rows of
    its natural key the sources held (_key_row_count, from deduplicated_rows()). -#}
{% macro fact_provenance_columns() -%}
    _period_label,
    _period_end,
    _source_file,
    _source_sheet,
    _source_row,
    _file_sha256,
    _run_id,
    _ingested_at,
    _key_row_count
{%- endmacro %}
