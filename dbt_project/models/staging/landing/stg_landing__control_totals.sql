with

source as (

    select * from {{ source('landing', 'control_totals') }}

),

renamed as (

    select
        cast(year as integer) as year,
        cast(street_code as varchar) as street_code,
        cast(report_kind as varchar) as report_kind,
        cast(label as varchar) as label,
        cast(field as varchar) as field,
        cast(stated_value as decimal(18, 2)) as stated_value,
        cast(computed_value as decimal(18, 2)) as computed_value,
        cast(covers_from_row as integer) as covers_from_row,
        cast(covers_to_row as integer) as covers_to_row,
        cast(_source_file as varchar) as _source_file,
        cast(_source_sheet as varchar) as _source_sheet,
        cast(_source_row as integer) as _source_row,
        cast(_run_id as varchar) as _run_id
    from source

)

select * from renamed
