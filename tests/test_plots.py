import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.font_manager import FontProperties, findfont

from utils.core.figures import save_figure


def test_saves_a_png_with_a_cyrillic_capable_font(tmp_path):
    figure, axis = plt.subplots()
    axis.bar(["гнев", "радость"], [3, 5])
    axis.set_title("Метки")
    path = save_figure(figure, tmp_path / "eda" / "labels.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "DejaVuSans" in findfont(FontProperties(family=matplotlib.rcParams["font.family"]))
