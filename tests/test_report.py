"""benchmarks/results.md keeps the current figures once per benchmark and kind of machine; what a new measurement
replaces moves to the history, newest first."""
from benchmarks.report import record, sections


def test_a_benchmark_measured_again_replaces_its_section_and_keeps_the_old_one(tmp_path):
    results, history = tmp_path / "results.md", tmp_path / "history.md"
    record("Load", "p95 20 s", results, history, kind="AVX2", machine="slow CPU")
    record("Load", "p95 9 s", results, history, kind="AVX-512", machine="fast CPU")
    record("Fast bars — mnist", "ratio 0.3", results, history, kind="AVX2", machine="slow CPU")
    record("Load", "p95 8 s", results, history, kind="AVX2", machine="slow CPU")
    current = dict(sections(results.read_text()))
    assert list(current) == ["Load — AVX2", "Load — AVX-512", "Fast bars — mnist — AVX2"]
    assert "p95 8 s" in current["Load — AVX2"] and "p95 20 s" not in results.read_text()
    assert "Measured " in current["Load — AVX2"] and " at commit " in current["Load — AVX2"]
    old = sections(history.read_text())
    assert [h for h, _ in old] == ["Load — AVX2"] and "p95 20 s" in old[0][1]
    record("Load", "p95 7 s", results, history, kind="AVX2", machine="slow CPU")
    assert ["p95 8 s" in s for _, s in sections(history.read_text())] == [True, False]     # newest first
