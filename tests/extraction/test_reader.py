import io
import random
import zipfile
from pathlib import Path

import docx
import pytest

from app.errors import BinaryDocument, EmptyDocument, UnknownEncoding, UnreadableDocument
from app.extraction.reader import Decoded, is_chrome, read_document

SEED = Path(__file__).resolve().parents[2] / "seed"

POLICY = (
    "赣州市人民政府关于印发美丽赣州建设行动实施方案（2022—2025年）的通知\n"
    "各县（市、区）人民政府，市政府各部门，市属、驻市各单位：\n"
    "　　经市政府同意，现将《美丽赣州建设行动实施方案》印发给你们，请结合工作实际，"
    "认真抓好贯彻落实。“十四五”期间，确保完成上级下达的约束性指标；2025年底前，"
    "基本消除城市黑臭水体。\n"
    "2022年12月28日\n"
)
TRADITIONAL = (
    "為深入貫徹落實黨的二十大精神，系統推進美麗贛州建設行動，制定本方案。\n"
    "各縣（市、區）人民政府，市政府有關部門：經市政府同意，現將實施方案印發給你們，"
    "請結合工作實際，認真抓好貫徹落實。\n"
)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


class TestEncoding:
    def test_utf8_without_bom_is_read_verbatim(self):
        assert read_document(POLICY.encode()) == Decoded(POLICY, "text", "utf-8")

    def test_utf8_bom_is_stripped(self):
        decoded = read_document(b"\xef\xbb\xbf" + POLICY.encode())
        assert (decoded.text, decoded.encoding) == (POLICY, "utf-8")

    def test_gb18030_file_is_detected(self):
        decoded = read_document(POLICY.encode("gb18030"))
        assert (decoded.text, decoded.format, decoded.encoding) == (POLICY, "text", "gb18030")

    def test_gbk_subset_is_reported_as_gb18030(self):
        assert read_document(POLICY.encode("gbk")).encoding == "gb18030"

    def test_big5_traditional_text_is_detected(self):
        decoded = read_document(TRADITIONAL.encode("big5"))
        assert (decoded.text, decoded.encoding) == (TRADITIONAL, "big5")

    @pytest.mark.parametrize("codec", ["utf-16", "utf-16-be"])
    def test_utf16_with_bom(self, codec):
        data = POLICY.encode(codec) if codec == "utf-16" else b"\xfe\xff" + POLICY.encode(codec)
        decoded = read_document(data)
        assert (decoded.text, decoded.encoding) == (POLICY, "utf-16")

    @pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
    def test_utf16_without_bom_is_recognised_by_its_nul_pattern(self, codec):
        decoded = read_document(POLICY.encode(codec))
        assert (decoded.text, decoded.encoding) == (POLICY, "utf-16")

    def test_line_endings_are_normalised(self):
        assert read_document("一\r\n二\r三\n".encode("gb18030")).text == "一\n二\n三\n"

    def test_truncated_last_character_is_tolerated(self):
        data = (POLICY * 20).encode("gb18030") + "县".encode("gb18030")[:1]
        decoded = read_document(data)
        assert decoded.encoding == "gb18030"
        assert decoded.text.startswith(POLICY * 20)

    def test_utf8_cut_off_mid_character_is_still_utf8(self):
        data = (POLICY * 20).encode()[:-1]
        decoded = read_document(data)
        assert decoded.encoding == "utf-8"
        assert decoded.text.startswith(POLICY * 19)

    def test_latin1_text_is_not_passed_off_as_gb18030(self):
        data = "Café naïve résumé à la française, señor. Über die Straße. ".encode("latin-1") * 20
        with pytest.raises(UnknownEncoding) as caught:
            read_document(data, "notes.txt")
        assert "'notes.txt'" in caught.value.detail
        assert "GB18030" in caught.value.detail and "UTF-8" in caught.value.detail

    def test_random_bytes_are_rejected(self):
        data = random.Random(7).randbytes(4096)
        with pytest.raises((UnknownEncoding, BinaryDocument)):
            read_document(data)

    def test_random_high_bytes_are_not_decoded_as_chinese(self):
        rng = random.Random(3)
        data = bytes(rng.randrange(0x80, 0x100) for _ in range(4096))
        with pytest.raises(UnknownEncoding):
            read_document(data)

    def test_large_utf8_input_decodes(self):
        line = "（一）加强组织领导。各县（市、区）要压实责任，2025年底前完成。\n"
        text = line * (10 * 1024 * 1024 // len(line.encode()))
        decoded = read_document(text.encode())
        assert decoded.encoding == "utf-8" and decoded.text == text


class TestSniffing:
    def test_file_name_is_ignored_for_a_gb18030_file_called_docx(self):
        decoded = read_document(POLICY.encode("gb18030"), "x.docx")
        assert (decoded.text, decoded.format, decoded.encoding) == (POLICY, "text", "gb18030")

    @pytest.mark.parametrize(
        ("data", "looks_like"),
        [
            (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
            (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
            (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
            (b"GIF89a\x01\x00\x01\x00", "GIF"),
            (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), ".doc"),
            (b"\x7fELF\x02\x01\x01" + bytes(64), "ELF"),
        ],
    )
    def test_known_binary_formats_say_what_they_are(self, data, looks_like):
        with pytest.raises(BinaryDocument) as caught:
            read_document(data, "policy.txt")
        assert looks_like in caught.value.detail
        assert ".docx" in caught.value.detail and "UTF-8" in caught.value.detail

    def test_zip_without_word_document_is_binary(self):
        with pytest.raises(BinaryDocument, match="ZIP archive"):
            read_document(_zip({"readme.txt": b"hello"}))

    def test_xlsx_is_named_as_such(self):
        with pytest.raises(BinaryDocument, match=r"Excel workbook \(\.xlsx\)"):
            read_document(_zip({"xl/workbook.xml": b"<workbook/>"}))

    def test_damaged_zip_is_binary(self):
        with pytest.raises(BinaryDocument, match="damaged"):
            read_document(b"PK\x03\x04" + bytes(40))

    def test_nul_bytes_mean_binary(self):
        with pytest.raises(BinaryDocument, match="NUL"):
            read_document(b"abc\x00\x01\x02\x03\xff\xfe\x00" * 50)

    def test_control_bytes_mean_binary(self):
        with pytest.raises(BinaryDocument, match="control"):
            read_document(bytes(range(1, 32)) * 20)


class TestEmpty:
    @pytest.mark.parametrize(
        "data", [b"", b"   \n\t\r\n", "\u3000\u3000\n".encode(), "  \n".encode("utf-16")]
    )
    def test_blank_input_is_empty(self, data):
        with pytest.raises(EmptyDocument):
            read_document(data, "blank.txt")

    def test_html_with_only_chrome_is_empty(self):
        page = "<html><body><div class='nav'><a>首页</a></div><p>【打印】【关闭】</p></body></html>"
        with pytest.raises(EmptyDocument, match="chrome"):
            read_document(page.encode())


PAGE = """<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>关于印发重点任务清单的通知_赣县区人民政府</title>
<script>var tpl = "<p>脚本里的文字</p>";</script><style>p { color: red }</style></head>
<body>
<div class="top-toolbar"><a href="#">关怀版</a> <a href="#">无障碍</a></div>
<nav><ul><li><a href="/">首页</a></li><li><a href="/zwgk">政务公开</a></li></ul></nav>
<div class="breadcrumb">您当前所在位置：<a href="/">首页</a> &gt; <a>政府信息公开</a></div>
<div class="article">
  <h1>关于印发重点任务清单的通知</h1>
  <div class="info">发布时间：2024-04-16 &nbsp; 访问量：123</div>
  <p>各乡（镇）人民政府，区直各单位：</p>
  <p>　　现将《重点任务清单》印发给你们，
     请认真抓好贯彻落实。</p>
  <p>&nbsp;</p>
  <p><br></p>
  <table class="MsoTableGrid" border="1">
    <tr><th>序号</th><th>重点任务</th><th>工作内容</th><th>责任单位</th><th>完成时限</th></tr>
    <tr>
      <td>1</td><td>推进美丽河湖建设</td>
      <td><p>开展河湖“清四乱”</p><p>专项行动。</p></td>
      <td>区水利局<br>区生态环境分局</td>
      <td>2024年底前</td>
    </tr>
    <tr><td>2</td><td colspan="2">持续推进城市黑臭水体治理</td><td>区城管局</td><td>长期坚持</td></tr>
  </table>
  <p>附件：重点任务清单<!-- 注释 --></p>
  <div class="bdsharebuttonbox">分享到：<a>微信</a><a>微博</a></div>
  <div>【打印本页】 【关闭窗口】</div>
</div>
<div id="footer">版权所有：赣州市赣县区人民政府 <a>网站地图</a></div>
<footer>主办单位：赣县区人民政府办公室</footer>
</body>
</html>
"""
PAGE_TEXT = "\n".join([
    "关于印发重点任务清单的通知",
    "各乡（镇）人民政府，区直各单位：",
    "现将《重点任务清单》印发给你们，请认真抓好贯彻落实。",
    "",
    "序号\t重点任务\t工作内容\t责任单位\t完成时限",
    "1\t推进美丽河湖建设\t开展河湖“清四乱” 专项行动。\t区水利局 区生态环境分局\t2024年底前",
    "2\t持续推进城市黑臭水体治理\t区城管局\t长期坚持",
    "附件：重点任务清单",
])


class TestHtml:
    def test_page_keeps_body_lines_in_order_and_drops_chrome(self):
        decoded = read_document(PAGE.encode(), "page.txt")
        assert (decoded.format, decoded.encoding) == ("html", "utf-8")
        assert decoded.text == PAGE_TEXT

    def test_gbk_page_with_meta_charset(self):
        page = PAGE.replace('charset="utf-8"', 'charset="gbk"')
        decoded = read_document(page.encode("gbk"))
        assert (decoded.text, decoded.encoding) == (PAGE_TEXT, "gb18030")

    def test_meta_charset_settles_bytes_that_are_also_valid_utf8(self):
        page = '<html><head><meta charset="gb2312"></head><body><p>通知</p></body></html>'
        assert read_document(page.encode("gbk")) == Decoded("通知", "html", "gb18030")

    def test_fragment_without_html_root_is_sniffed_by_block_tags(self):
        fragment = "<div><p>第一段。</p><p>第二段。</p></div>"
        assert read_document(fragment.encode()) == Decoded("第一段。\n第二段。", "html", "utf-8")

    def test_layout_table_renders_its_paragraphs_as_lines(self):
        page = "<html><body><table><tr><td><p>一、总体要求</p><p>（一）指导思想。</p></td></tr></table>"
        assert read_document(page.encode()).text == "一、总体要求\n（一）指导思想。"

    def test_chrome_class_wrapper_holding_the_article_is_kept(self):
        page = "<html><body><div class='has-sidebar'><h1>通知</h1><p>正文。</p></div></body></html>"
        assert read_document(page.encode()).text == "通知\n正文。"

    def test_aspnet_form_wrapping_the_page_and_article_header_are_kept(self):
        page = (
            "<html><body><form id='form1'><div class='menu'><a>首页</a></div>"
            "<article><header><h1>通知</h1></header><p>正文。</p></article>"
            "<div class='footer'>版权所有：某某县人民政府 地址：某某路1号</div></form></body></html>"
        )
        assert read_document(page.encode()).text == "通知\n正文。"

    def test_plain_text_mentioning_tags_is_not_html(self):
        text = "PM2.5浓度<35微克/立方米，优良天数比例>90%。\n"
        assert read_document(text.encode()).format == "text"


def _docx_bytes(build) -> bytes:
    document = docx.Document()
    build(document)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _task_document(document) -> None:
    document.add_heading("赣县区美丽赣州建设行动工作方案", level=0)
    document.add_paragraph("一、总体要求")
    document.add_paragraph("")
    document.add_paragraph("（一）加强组织领导。")
    table = document.add_table(rows=3, cols=5)
    header = ["序号", "重点任务", "工作内容", "责任单位", "完成时限"]
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
    for cell, text in zip(table.rows[1].cells, ["1", "推进美丽河湖建设", "开展清四乱", "区水利局", "2024年底前"], strict=True):
        cell.text = text
    merged = table.cell(2, 1).merge(table.cell(2, 2))
    merged.text = "持续推进城市黑臭水体治理"
    for col, text in [(0, "2"), (3, "区城管局"), (4, "长期坚持")]:
        table.cell(2, col).text = text
    document.add_paragraph("附件：重点任务清单")


class TestDocx:
    def test_paragraphs_and_table_rows_in_document_order(self, tmp_path):
        path = tmp_path / "plan.docx"
        path.write_bytes(_docx_bytes(_task_document))
        decoded = read_document(path.read_bytes(), path.name)
        assert (decoded.format, decoded.encoding) == ("docx", None)
        assert decoded.text.split("\n") == [
            "赣县区美丽赣州建设行动工作方案",
            "一、总体要求",
            "",
            "（一）加强组织领导。",
            "序号\t重点任务\t工作内容\t责任单位\t完成时限",
            "1\t推进美丽河湖建设\t开展清四乱\t区水利局\t2024年底前",
            "2\t持续推进城市黑臭水体治理\t区城管局\t长期坚持",
            "附件：重点任务清单",
        ]

    def test_vertical_merge_repeats_text_and_nested_table_is_flattened(self):
        def build(document):
            table = document.add_table(rows=2, cols=2)
            table.cell(0, 0).merge(table.cell(1, 0)).text = "市生态环境局"
            table.cell(0, 1).text = "任务一"
            inner = table.cell(1, 1).add_table(rows=1, cols=2)
            inner.cell(0, 0).text = "子项"
            inner.cell(0, 1).text = "2025年"

        decoded = read_document(_docx_bytes(build))
        assert decoded.text.split("\n")[-2:] == ["市生态环境局\t任务一", "市生态环境局\t子项 2025年"]

    def test_docx_without_text_is_empty(self):
        with pytest.raises(EmptyDocument):
            read_document(_docx_bytes(lambda document: None))

    def test_corrupt_docx_is_unreadable_not_binary(self):
        data = _zip({"[Content_Types].xml": b"<Types", "word/document.xml": b"not xml"})
        with pytest.raises(UnreadableDocument) as caught:
            read_document(data, "plan.docx")
        assert type(caught.value) is UnreadableDocument
        assert "'plan.docx'" in caught.value.detail and "save it again" in caught.value.detail


class TestChrome:
    @pytest.mark.parametrize(
        "line",
        [
            "关怀版 无障碍 无障碍",
            "您当前所在位置: 首页>政府信息公开目录>执行公开>计划规划",
            "当前位置：首页 » 政务公开",
            "访问量:",
            "浏览次数：1024次",
            "字号：大 中 小",
            "【字号：大 中 小】 【打印】 【关闭】",
            "打印本页 关闭窗口",
            "分享到：微信 微博",
            "在线检阅: 搜索",
            "扫一扫在手机打开当前页",
            "相关文章",
            "相关链接",
            "来源：赣州市人民政府办公室",
            "发布时间：2022-11-18 10:30",
            "发布日期：2024年4月16日  阅读次数：56",
            "发布时间：2022-11-18 来源：赣州市政府办 字号：[大 中 小] [打印本页] [关闭窗口]",
            "上一篇：关于做好防汛工作的通知",
            "下一篇:无",
            "网站地图 | 联系我们",
            "版权所有：赣州市人民政府",
        ],
    )
    def test_chrome_lines_are_flagged(self, line):
        assert is_chrome(line)

    @pytest.mark.parametrize(
        "line",
        [
            "",
            "各县(市、区)人民政府,市政府有关部门:",
            "一、总体要求",
            "（此件主动公开）",
            "市生态环境局",
            "2022-2025年",
            "附件：重点任务清单",
            "无障碍环境建设",
            "加强打印机耗材回收",
            "关闭落后产能，淘汰高耗能设备。",
            "来源：国家统计局，2023年数据显示森林覆盖率稳定在76%以上。",
            "所在位置：兴国县长冈乡",
            "各地要充分利用网站、公众号分享到基层的典型经验做法，字号大中小均可。",
        ],
    )
    def test_document_lines_are_kept(self, line):
        assert not is_chrome(line)

    @pytest.mark.parametrize("phrase", ["分享到", "分享到 ", "版权所有", "上一篇", "来源："])
    def test_long_runs_of_chrome_phrases_do_not_backtrack_forever(self, phrase):
        assert not is_chrome(phrase * (110 // len(phrase)) + "。")

    def test_seed_documents_flag_exactly_their_page_chrome(self):
        flagged = {
            (path.name[:3], line)
            for path in sorted(SEED.glob("*.txt"))
            for line in path.read_text(encoding="utf-8").split("\n")
            if is_chrome(line)
        }
        assert flagged == {
            ("000", "关怀版 无障碍 无障碍"),
            ("000", "您当前所在位置: 首页>政府信息公开目录>执行公开>计划规划>发展规划>专项规划"),
            ("000", "在线检阅: 搜索"),
            ("000", "访问量:"),
            ("000", "相关文章"),
            ("001", "相关文章"),
            ("002", "关怀版 无障碍 无障碍"),
            ("002", "您当前所在位置: 首页\xa0>\xa0法定主动公开内容\xa0>\xa0决策公开\xa0>\xa0规划计划"),
            ("002", "访问量:"),
        }

    def test_seed_documents_read_as_utf8_text(self):
        for path in sorted(SEED.glob("*.txt")):
            data = path.read_bytes()
            assert read_document(data, path.name) == Decoded(data.decode(), "text", "utf-8")
