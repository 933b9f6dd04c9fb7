from utils.core.paths import REPO_ROOT
from utils.run.benchmark import results_markdown, shown_path


def test_the_data_folder_is_recorded_relative_to_the_repository_not_as_an_absolute_path():
    assert shown_path(REPO_ROOT / "data" / "sample") == "data/sample"
    assert shown_path(REPO_ROOT.parent / "shared" / "data" / "cryptonite") == "../shared/data/cryptonite"
    results = {"date": "2026-01-01T00:00", "data_dir": shown_path(REPO_ROOT / "data" / "sample"),
               "machine": {"cpu": "x", "cores": 2, "python": "3.11", "torch": "2"}, "variants": []}
    assert "data: `data/sample`." in results_markdown(results) and str(REPO_ROOT) not in results_markdown(results)
