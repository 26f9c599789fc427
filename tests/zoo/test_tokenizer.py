"""The offline tokenizer: every listed word is one token, other text still tokenizes."""

from spinml.zoo.tokenizer import IDENTIFIERS, build_tokenizer

WORDS = ["a", "photo", "of", "creature", "orange", "or", "oran", "sleeping", *IDENTIFIERS]


def test_every_word_is_one_token(tmp_path):
    tokenizer = build_tokenizer(WORDS, tmp_path / "tok", max_length=12)
    assert tokenizer.model_max_length == 12
    for word in WORDS:
        assert tokenizer.tokenize(word) == [f"{word}</w>"], word
    ids = tokenizer("a photo of a sks creature").input_ids
    assert len(ids) == 8 and ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id


def test_later_words_do_not_change_earlier_splits(tmp_path):
    short = build_tokenizer(["or"], tmp_path / "short")
    long = build_tokenizer(["or", "orange", "oran"], tmp_path / "long")
    assert short.tokenize("or") == long.tokenize("or") == ["or</w>"]
    assert long.tokenize("orange") == ["orange</w>"] and long.tokenize("oran") == ["oran</w>"]


def test_unknown_text_falls_back_to_pieces_and_the_folder_reloads(tmp_path):
    tokenizer = build_tokenizer(WORDS, tmp_path / "tok")
    pieces = tokenizer.tokenize("zebra")
    assert len(pieces) > 1 and "".join(pieces).replace("</w>", "") == "zebra"
    assert tokenizer.unk_token_id not in tokenizer("zebra").input_ids[1:-1]
    from transformers import CLIPTokenizer

    again = CLIPTokenizer.from_pretrained(tmp_path / "tok", local_files_only=True)
    assert again("a sleeping creature").input_ids == tokenizer("a sleeping creature").input_ids
