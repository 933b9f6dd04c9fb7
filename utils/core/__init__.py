"""The floor every stage stands on: the data contract, settings, text normalisation, files, seeds, navec, decisions."""
from .lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "splits": ["LABELS", "TEXT", "SOURCE", "SPLIT_FILES", "DataError", "read_split", "load_competition", "label_matrix",
               "onehot_to_lists", "lists_to_onehot"],
    "settings": ["ConfigError", "RunConfig", "TextConfig", "EdaConfig", "ModelConfig", "HeadConfig", "NavecConfig", "TrainConfig",
                 "ThresholdConfig", "MemberSettings", "ExpansionConfig"],
    "settings_io": ["load_config", "save_config", "parse_overrides"],
    "data_dir": ["find_data_dir"],
    "run_start": ["start_run"],
    "run_record": ["finish_step", "read_record", "StaleProductError"],
    "summary": ["write_run_summary", "estimate_lines"],
    "text": ["make_preprocessor", "preprocess_texts", "load_slips"],
    "seed": ["seed_everything"],
    "navec": ["load_navec"],
    "environment": ["install_missing"],
    "figures": ["save_figure"],
    "files": ["write_text", "write_csv", "OutputExistsError"],
    "decisions": ["apply_thresholds", "weighted_f1_many"],
    "ensemble": ["Ensemble"],
    "member_kinds": ["MemberKind", "register_kind"],
    "probs_files": ["write_probs", "read_probs"],
})
