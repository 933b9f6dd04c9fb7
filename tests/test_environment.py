from utils.core.environment import (
    install_missing,
    missing_requirements,
    read_requirements,
)


def test_reads_names_and_lines(write_file):
    path = write_file("req.txt", "# comment\ntorch==2.13.0\nscikit-learn==1.9.1  # sklearn\n\nsix\n")
    assert read_requirements(path) == [("torch", "torch==2.13.0"), ("scikit-learn", "scikit-learn==1.9.1"), ("six", "six")]


def test_only_missing_packages_are_installed_and_never_torch(write_file, capsys):
    path = write_file("req.txt", "torch==0.0.1\ntransformers==0.0.1\nnumpy==0.0.1\nno-such-package-kit==1.0\n")
    assert missing_requirements(path) == ["no-such-package-kit==1.0"]
    assert install_missing(path, dry_run=True) == ["no-such-package-kit==1.0"]
    assert "Installing the missing packages: no-such-package-kit==1.0" in capsys.readouterr().out


def test_kit_requirements_are_all_installed_here():
    assert missing_requirements() == []
