"""Coverage from BAM files (MetaBAT's depth, by hand) and the three depth-table formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biocl.data.dna.coverage import Coverage, DepthSettings, bam_depths, contig_depth, read_depth_table
from biocl.utils.errors import BioclError


def _write_bam(path: Path, references: dict[str, int], reads: list[dict], *, index: bool = False) -> Path:
    pysam = pytest.importorskip("pysam")
    header = {"HD": {"VN": "1.6", "SO": "coordinate"},
              "SQ": [{"SN": name, "LN": length} for name, length in references.items()]}
    names = list(references)
    with pysam.AlignmentFile(str(path), "wb", header=header) as bam:
        for i, spec in enumerate(sorted(reads, key=lambda r: (names.index(r["ref"]), r["pos"]))):
            segment = pysam.AlignedSegment(bam.header)
            segment.query_name = f"r{i}"
            length = spec.get("length", 100)
            segment.query_sequence = "A" * length
            segment.flag = spec.get("flag", 0)
            segment.reference_id = names.index(spec["ref"])
            segment.reference_start = spec["pos"]
            segment.mapping_quality = spec.get("mapq", 60)
            segment.cigartuples = spec.get("cigar", [(0, length)])
            segment.query_qualities = pysam.qualitystring_to_array("I" * length)
            segment.set_tag("NM", spec.get("nm", 0))
            bam.write(segment)
    if index:
        pysam.index(str(path))
    return path


def test_contig_depth_trims_the_ends_by_hand() -> None:
    # Two reads on a 400 bp contig: [0, 100) and [150, 350); trimmed 75 bp per end leaves [75, 325).
    mean, var = contig_depth(np.array([[0, 100], [150, 350]]), 400, 75)
    per_base = np.zeros(400)
    per_base[0:100] += 1
    per_base[150:350] += 1
    assert mean == pytest.approx(per_base[75:325].mean())
    assert var == pytest.approx(per_base[75:325].var())
    # A contig shorter than two trims counts every base.
    assert contig_depth(np.array([[0, 50]]), 100, 75)[0] == pytest.approx(0.5)


def test_bam_depth_equals_the_hand_computed_value(tmp_path: Path) -> None:
    refs = {"c1": 1_000, "c2": 500}
    reads = [
        {"ref": "c1", "pos": 0},                                   # [0, 100): mostly inside the trimmed edge
        {"ref": "c1", "pos": 200},                                 # [200, 300)
        {"ref": "c1", "pos": 200, "nm": 4},                        # identity 0.96 < 0.97: ignored
        {"ref": "c1", "pos": 300, "nm": 3},                        # identity 0.97: counted, [300, 400)
        {"ref": "c1", "pos": 400, "flag": 0x100},                  # secondary: ignored
        {"ref": "c1", "pos": 400, "flag": 0x800},                  # supplementary: ignored
        {"ref": "c1", "pos": 500, "mapq": 3},                      # counted at min_mapq 0, not at 10
        {"ref": "c1", "pos": 600, "cigar": [(0, 40), (2, 20), (0, 60)], "nm": 0},  # deletion: identity 100/120
        {"ref": "c2", "pos": 100, "cigar": [(0, 50), (1, 1), (0, 49)], "nm": 1},   # one insertion: 99/100
    ]
    bam = _write_bam(tmp_path / "S1.bam", refs, reads)
    coverage = bam_depths([bam], refs)
    per_base = np.zeros(1_000)
    for start, end in ((0, 100), (200, 300), (300, 400), (500, 600)):
        per_base[start:end] += 1
    assert coverage.samples == ["S1"]
    assert coverage.depth[0, 0] == pytest.approx(per_base[75:925].mean(), rel=1e-6)
    assert coverage.variance[0, 0] == pytest.approx(per_base[75:925].var(), rel=1e-5)
    c2 = np.zeros(500)
    c2[100:150] += 1
    c2[150:199] += 1
    assert coverage.depth[1, 0] == pytest.approx(c2[75:425].mean(), rel=1e-6)
    strict = bam_depths([bam], refs, settings=DepthSettings(min_mapq=10))
    per_base[500:600] -= 1
    assert strict.depth[0, 0] == pytest.approx(per_base[75:925].mean(), rel=1e-6)


def test_two_samples_indexed_or_not_and_contig_order(tmp_path: Path) -> None:
    refs = {"a": 300, "b": 300}
    s1 = _write_bam(tmp_path / "s1.bam", refs, [{"ref": "b", "pos": 100}], index=True)
    s2 = _write_bam(tmp_path / "s2.bam", refs, [{"ref": "a", "pos": 100}, {"ref": "a", "pos": 100}])
    coverage = bam_depths([s1, s2], {"b": 300, "a": 300}, settings=DepthSettings(trim_bp=0))
    assert coverage.contigs == ["b", "a"]
    np.testing.assert_allclose(coverage.depth, [[1 / 3, 0], [0, 2 / 3]], rtol=1e-6)


def test_missing_contig_and_empty_bam_are_clean_errors(tmp_path: Path) -> None:
    bam = _write_bam(tmp_path / "x.bam", {"a": 300}, [{"ref": "a", "pos": 0}])
    with pytest.raises(BioclError, match="contig 'zz' of the FASTA is not a reference"):
        bam_depths([bam], {"a": 300, "zz": 500})
    with pytest.raises(BioclError, match="300 bp in the BAM"):
        bam_depths([bam], {"a": 301})
    empty = _write_bam(tmp_path / "empty.bam", {"a": 300}, [])
    with pytest.raises(BioclError, match="no alignments"):
        bam_depths([empty], {"a": 300})


def test_unsorted_bam_is_a_clean_error(tmp_path: Path) -> None:
    pysam = pytest.importorskip("pysam")
    header = {"HD": {"VN": "1.6"}, "SQ": [{"SN": "a", "LN": 300}, {"SN": "b", "LN": 300}]}
    path = tmp_path / "unsorted.bam"
    with pysam.AlignmentFile(str(path), "wb", header=header) as bam:
        for i, ref in enumerate((0, 1, 0)):
            segment = pysam.AlignedSegment(bam.header)
            segment.query_name, segment.query_sequence = f"r{i}", "A" * 50
            segment.reference_id, segment.reference_start, segment.cigartuples = ref, 10, [(0, 50)]
            bam.write(segment)
    with pytest.raises(BioclError, match="not coordinate-sorted"):
        bam_depths([path], {"a": 300, "b": 300})


METABAT = ("contigName\tcontigLen\ttotalAvgDepth\tS1.bam\tS1.bam-var\tS2.bam\tS2.bam-var\n"
           "c1\t3000\t3.5\t2\t0.5\t1.5\t0.25\nc2\t2500\t1\t0\t0\t1\t0.1\n")
VAMB = "contigname\tS1\tS2\nc1\t2\t1.5\nc2\t0\t1\n"
COVERM = ("Contig\tS1.bam Mean\tS1.bam Variance\tS2.bam Mean\tS2.bam Variance\n"
          "c1\t2\t0.5\t1.5\t0.25\nc2\t0\t0\t1\t0.1\n")


@pytest.mark.parametrize("text, fmt, samples, has_variance", [
    (METABAT, "metabat", ["S1.bam", "S2.bam"], True),
    (VAMB, "vamb", ["S1", "S2"], False),
    (COVERM, "coverm", ["S1.bam", "S2.bam"], True),
])
def test_each_depth_table_format_parses(tmp_path: Path, text: str, fmt: str, samples: list[str],
                                        has_variance: bool) -> None:
    path = tmp_path / "depth.tsv"
    path.write_text(text)
    coverage = read_depth_table(path)
    assert coverage.source == fmt and coverage.samples == samples and coverage.contigs == ["c1", "c2"]
    np.testing.assert_allclose(coverage.depth, [[2, 1.5], [0, 1]])
    if has_variance:
        np.testing.assert_allclose(coverage.variance, [[0.5, 0.25], [0, 0.1]], rtol=1e-6)
    else:
        assert coverage.variance is None


@pytest.mark.parametrize("text, message", [
    ("name\tdepth\nc1\t2\n", "unrecognised depth-table header"),
    ("contigname\tS1\nc1\t2\t3\n", "line 2 has 3 fields"),
    ("contigname\tS1\nc1\tlots\n", "line 2: a depth is not a number"),
    ("contigname\tS1\n", "no contigs"),
    ("contigName\tcontigLen\ttotalAvgDepth\tS1\tS2\nc1\t10\t1\t1\t1\n", "-var"),
    ("contigname\tS1\nc1\t1\nc1\t2\n", "listed twice"),
])
def test_malformed_tables_are_clean_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(text)
    with pytest.raises(BioclError, match=message) as err:
        read_depth_table(path)
    assert "\n" not in err.value.one_line()


def test_aligned_to_names_the_first_missing_contig() -> None:
    coverage = Coverage(["a", "b"], ["s"], np.array([[1.0], [2.0]], dtype=np.float32), None, "vamb")
    assert coverage.aligned_to(["b", "a"]).depth[:, 0].tolist() == [2.0, 1.0]
    with pytest.raises(BioclError, match="contig 'c' of the FASTA has no coverage"):
        coverage.aligned_to(["b", "c", "d"])
