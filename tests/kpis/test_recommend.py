def test_no_weeks_at_all_holds_for_lack_of_evidence() -> None:
    from deshi.kpis.recommend import recommend
    from deshi.kpis.records import KpiPolicy

    result = recommend([], KpiPolicy())
    assert result.action == "hold"
    assert [r.code for r in result.reasons] == ["not_enough_weeks"]
