#!/usr/bin/env python3
"""Hand-written DuckDB SQL of bench/MODEL.md: the speed baseline for leadrules' SQL backend.

    python bench/baseline_sql.py LEADS.parquet|LEADS.jsonl      prints grade counts and the time
"""
from __future__ import annotations

import sys
import time

QUERY = r"""
WITH src AS (
  SELECT * FROM {source}
), lead AS (
  SELECT id,
         lower(coalesce(title, '')) AS title_l,
         lower(trim(coalesce(email, ''))) AS email_l,
         trim(coalesce(first_name, '')) AS first_t,
         trim(coalesce(last_name, '')) AS last_t,
         company_size, lower(trim(industry)) AS industry_l, upper(trim(country)) AS country_u,
         annual_revenue, lower(lead_source) AS source_l
  FROM src
), lead2 AS (
  SELECT *, CASE WHEN contains(email_l, '@') THEN regexp_extract(email_l, '@([^@]*)$', 1) ELSE '' END AS domain,
         CASE WHEN regexp_matches(title_l, '\b(chief|ceo|cto|cmo|cfo|coo|cro|cio|founder)\b') THEN 30
              WHEN regexp_matches(title_l, '\b(vp|svp|evp|vice president)\b') THEN 25
              WHEN regexp_matches(title_l, '\b(director|head of)\b') THEN 20
              WHEN regexp_matches(title_l, '\b(manager|lead)\b') THEN 10 ELSE 0 END AS p1
  FROM lead
), ev AS (
  SELECT s.id, e.type AS type, e.page AS page, e.form AS form,
         DATE '2026-11-01' - CAST(left(e.at, 10) AS DATE) AS age
  FROM (SELECT id, unnest(events) AS e FROM src) s
), ev2 AS (
  SELECT id, type, page, form, age, pow(0.5, age / 30.0) AS w FROM ev
  WHERE age BETWEEN 0 AND 365
    AND type IN ('email_open', 'email_click', 'web_visit', 'form_submit', 'webinar_attended', 'content_download', 'unsubscribe')
), eng AS (
  SELECT id,
    least(coalesce(sum(w) FILTER (type = 'email_open'), 0), 10)
    + least(coalesce(sum(3 * w) FILTER (type = 'email_click'), 0), 15)
    + least(coalesce(sum(2 * w) FILTER (type = 'web_visit' AND NOT (coalesce(page = '/pricing' OR starts_with(page, '/pricing/')
                                                                            OR page = '/careers' OR starts_with(page, '/careers/'), false))), 0), 10)
    + least(coalesce(sum(10 * w) FILTER (type = 'web_visit' AND (page = '/pricing' OR starts_with(page, '/pricing/'))), 0), 30)
    + least(coalesce(sum(40 * w) FILTER (type = 'form_submit' AND form = 'demo_request'), 0), 40)
    + least(coalesce(sum(25 * w) FILTER (type = 'form_submit' AND form = 'contact_sales'), 0), 25)
    + least(coalesce(sum(5 * w) FILTER (type = 'form_submit' AND coalesce(form NOT IN ('demo_request', 'contact_sales'), true)), 0), 10)
    + least(coalesce(sum(15 * w) FILTER (type = 'webinar_attended' AND age <= 90), 0), 30)
    + least(coalesce(sum(4 * w) FILTER (type = 'content_download'), 0), 12)
    + greatest(coalesce(sum(-30 * w) FILTER (type = 'unsubscribe'), 0), -30)
    + greatest(coalesce(sum(-5 * w) FILTER (type = 'web_visit' AND (page = '/careers' OR starts_with(page, '/careers/'))), 0), -10)
    + CASE WHEN count(DISTINCT type) FILTER (age <= 30) >= 3 THEN 10 ELSE 0 END AS e
  FROM ev2 GROUP BY id
), scored AS (
  SELECT l.id,
    (email_l NOT LIKE '%@%' OR regexp_matches(email_l, '^test[0-9]*@') OR domain IN ('example.com', 'test.com', 'mailinator.com')
     OR lower(first_t) || ' ' || lower(last_t) IN ('mickey mouse', 'minnie mouse', 'donald duck', 'test test', 'asdf asdf')
     OR first_t = '' OR last_t = '') AS dq,
    greatest(0, least(100,
      p1
      + CASE WHEN regexp_matches(title_l, '\b(marketing|growth|demand|revops)\b') THEN 10 ELSE 0 END
      + CASE WHEN company_size >= 5000 THEN 15 WHEN company_size >= 1000 THEN 20 WHEN company_size >= 200 THEN 15
             WHEN company_size >= 50 THEN 10 WHEN company_size >= 10 THEN 5 ELSE 0 END
      + CASE WHEN industry_l IN ('software', 'saas', 'fintech', 'healthcare it', 'e-commerce') THEN 15
             WHEN industry_l IN ('financial services', 'manufacturing', 'retail', 'telecommunications', 'professional services') THEN 8
             ELSE 0 END
      + CASE WHEN country_u IN ('US', 'CA', 'GB', 'DE', 'FR', 'NL', 'AU') THEN 10
             WHEN country_u IN ('ES', 'IT', 'SE', 'DK', 'NO', 'FI', 'IE', 'CH', 'AT', 'BE', 'SG', 'JP', 'NZ') THEN 5 ELSE 0 END
      + CASE WHEN annual_revenue >= 100000000 THEN 15 WHEN annual_revenue >= 10000000 THEN 10
             WHEN annual_revenue >= 1000000 THEN 5 ELSE 0 END
      + CASE source_l WHEN 'referral' THEN 10 WHEN 'partner' THEN 8 WHEN 'organic_search' THEN 5 WHEN 'webinar' THEN 5
             WHEN 'event' THEN 5 WHEN 'paid_search' THEN 3 WHEN 'paid_social' THEN 3 WHEN 'purchased_list' THEN -10 ELSE 0 END
      + CASE WHEN domain IN ('gmail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'icloud.com', 'aol.com', 'proton.me', 'gmx.de')
             THEN -10 ELSE 0 END
      + CASE WHEN ends_with(domain, '.edu') OR ends_with(domain, '.ac.uk') THEN -15 ELSE 0 END
      + CASE WHEN regexp_matches(title_l, '\b(student|intern|internship)\b') THEN -20 ELSE 0 END
      + CASE WHEN domain IN ('hubspot.com', 'marketo.com', 'salesforce.com', 'pardot.com', 'eloqua.com', 'pipedrive.com', 'act-on.com')
             THEN -100 ELSE 0 END
      + CASE WHEN p1 >= 20 AND company_size >= 200 THEN 10 ELSE 0 END)) AS profile,
    greatest(0.0, least(100.0, coalesce(e, 0))) AS engagement
  FROM lead2 l LEFT JOIN eng USING (id)
), graded AS (
  SELECT *, CASE WHEN profile >= 80 THEN 'A' WHEN profile >= 60 THEN 'B' WHEN profile >= 30 THEN 'C' ELSE 'D' END
            || CASE WHEN engagement >= 75 THEN '1' WHEN engagement >= 50 THEN '2' WHEN engagement >= 25 THEN '3' ELSE '4' END AS grade
  FROM scored
)
SELECT id, profile, engagement, dq AS disqualified, grade,
       CASE WHEN dq THEN 'suppress' WHEN grade IN ('A1', 'A2', 'B1') THEN 'sales_hot'
            WHEN grade IN ('A3', 'B2') THEN 'sales_standard' ELSE 'nurture' END AS route
FROM graded
"""


def source_for(path: str) -> str:
    from sqlglot import exp

    lit = exp.Literal.string(path).sql(dialect="duckdb")
    if path.endswith(".parquet"):
        return f"read_parquet({lit})"
    cols = ("{id: 'VARCHAR', email: 'VARCHAR', first_name: 'VARCHAR', last_name: 'VARCHAR', title: 'VARCHAR', "
            "company: 'VARCHAR', company_size: 'BIGINT', industry: 'VARCHAR', country: 'VARCHAR', "
            "annual_revenue: 'DOUBLE', lead_source: 'VARCHAR', created_at: 'VARCHAR', events: "
            "'STRUCT(\"type\" VARCHAR, \"at\" VARCHAR, page VARCHAR, form VARCHAR, campaign VARCHAR, "
            "webinar VARCHAR, asset VARCHAR)[]'}")
    return f"read_json({lit}, format = 'newline_delimited', columns = {cols})"


def query(path: str) -> str:
    return QUERY.format(source=source_for(path))


def main(argv=None) -> int:
    import duckdb

    path = (argv or sys.argv[1:])[0]
    con = duckdb.connect()
    t0 = time.perf_counter()
    tbl = con.execute(query(path)).to_arrow_table()
    dt_ = time.perf_counter() - t0
    print(f"{tbl.num_rows:,} leads in {dt_:.2f} s ({tbl.num_rows / dt_:,.0f} leads/s)")
    print(con.execute("SELECT grade, count(*) FROM tbl GROUP BY 1 ORDER BY 1").fetchall())
    return 0


if __name__ == "__main__":
    sys.exit(main())
