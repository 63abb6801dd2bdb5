with

source as (

    select * from {{ source('landing', 'member_roster') }}

),

renamed as (

    select
        cast(year as integer) as year,
        cast(street_code as varchar) as street_code,
        'member_roster' as report_kind,
        cast(person_key as varchar) as person_key,
        cast(gender as varchar) as gender,
        cast(employer_credit_code as varchar) as employer_credit_code,
        cast(joined_on as date) as joined_on,
        cast(collected_on as date) as collected_on,
        cast(verified as boolean) as verified,
        cast(verified_on as date) as verified_on,
        cast(_period_label as varchar) as _period_label,
        cast(_period_end as date) as _period_end,
        cast(_superseded_by as varchar) as _superseded_by,
        cast(_source_file as varchar) as _source_file,
        cast(_source_sheet as varchar) as _source_sheet,
        cast(_source_row as integer) as _source_row,
        cast(_file_sha256 as varchar) as _file_sha256,
        cast(_run_id as varchar) as _run_id,
        cast(_ingested_at as timestamp) as _ingested_at
    from source

)

select * from renamed
