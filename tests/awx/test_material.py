"""extensions/awx against the controller's format rules and against the playbooks it runs (no controller needed)."""

import copy
import os
import re
import stat

import pytest
import yaml

import awx_material as awx

PLAYBOOKS = awx.ROOT / "playbooks"
GROUP_VARS = yaml.safe_load((PLAYBOOKS / "group_vars" / "all.yml").read_text(encoding="utf-8"))
TEMPLATES = {template["name"]: template for template in awx.job_templates()}
CREDENTIAL_TYPES = {credential_type["name"]: credential_type for credential_type in awx.credential_types()}


def read_by_playbook(playbook):
    """Variables a playbook reads: those its plays template, the options of its roles, and through
    group_vars/all.yml the variables those read in turn."""
    plays = yaml.safe_load((awx.ROOT / playbook).read_text(encoding="utf-8"))
    names = awx.template_variables(plays)
    for play in plays:
        for role in play.get("roles", []):
            name = role["role"].split(".")[-1]
            specs = yaml.safe_load((awx.ROOT / "roles" / name / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
            names |= set(specs["argument_specs"]["main"]["options"])
    pending = set(names)
    while pending:
        name = pending.pop()
        new = awx.template_variables(GROUP_VARS.get(name)) - names
        names |= new
        pending |= new
    return names


def survey_variables(template):
    return {question["variable"] for question in template["survey_spec"]["spec"]}


def test_every_playbook_has_one_job_template():
    playbooks = {"playbooks/%s" % path.name for path in PLAYBOOKS.glob("*.yml")}
    templated = {template["playbook"] for template in TEMPLATES.values()}
    assert not playbooks - templated, "playbooks without a job template in extensions/awx/job_templates.yml"
    assert not templated - playbooks, "job templates of no playbook"
    assert len(TEMPLATES) == len(awx.job_templates()), "job template names repeat"


@pytest.mark.parametrize("name", sorted(CREDENTIAL_TYPES))
def test_credential_type_is_valid(name):
    assert awx.credential_type_errors(CREDENTIAL_TYPES[name]) == []


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_survey_is_valid(name):
    assert awx.survey_errors(TEMPLATES[name]["survey_spec"]) == []


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_survey_asks_only_what_the_playbook_reads(name):
    template = TEMPLATES[name]
    read = read_by_playbook(template["playbook"])
    extra_vars = template.get("extra_vars") or {}
    assert set(extra_vars) <= read, "extra_vars the playbook does not read"
    assert awx.template_variables(extra_vars) <= survey_variables(template), "extra_vars read what no question asks"
    assert survey_variables(template) <= read | awx.template_variables(extra_vars), "questions nothing reads"


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_defaults_alone_give_the_extra_vars_unless_an_answer_is_required(name):
    template = TEMPLATES[name]
    required = {q["variable"] for q in template["survey_spec"]["spec"] if q["required"] and "default" not in q}
    if required:
        with pytest.raises(ValueError, match="required and unanswered"):
            awx.job_extra_vars(template, {})
    else:
        assert set(awx.job_extra_vars(template, {})) == survey_variables(template) | set(template.get("extra_vars") or {})


def test_answers_are_checked_against_their_questions():
    template = TEMPLATES["kubedisk.aks resize"]
    answers = {"volume_resize_size": "5Gi"}
    assert awx.job_extra_vars(template, answers)["volume_resize_mode"] == "auto"
    for wrong in ({"volume_resize_mode": "sideways"}, {"volume_resize_size": ""}, {"kubedisk_location": "westeurope"}):
        with pytest.raises(ValueError):
            awx.job_extra_vars(template, dict(answers, **wrong))


def _broken(mutate, source):
    broken = copy.deepcopy(source)
    mutate(broken)
    return broken


CREDENTIAL_TYPE_FAULTS = {
    "undeclared input": lambda ct: ct["injectors"]["env"].update(AZURE_TENANT_ID="{{ tenant_id }}"),
    "secret not secret": lambda ct: ct["inputs"]["fields"][3].pop("secret"),
    "reserved variable": lambda ct: ct["injectors"]["env"].update(ANSIBLE_CONFIG="{{ client }}"),
    "file name without file": lambda ct: ct["injectors"].pop("file"),
    "kubernetes kind": lambda ct: ct.update(kind="kubernetes"),
    "boolean secret": lambda ct: ct["inputs"]["fields"].append({"id": "flag", "label": "Flag", "type": "boolean", "secret": True}),
}


@pytest.mark.parametrize("fault", sorted(CREDENTIAL_TYPE_FAULTS))
def test_credential_type_rules_catch(fault):
    workload_identity = CREDENTIAL_TYPES["Azure workload identity (federated token)"]
    assert awx.credential_type_errors(_broken(CREDENTIAL_TYPE_FAULTS[fault], workload_identity))


SURVEY_FAULTS = {
    "default outside choices": lambda spec: spec["spec"][-1].update(default="sideways"),
    "unknown type": lambda spec: spec["spec"][0].update(type="boolean"),
    "repeated variable": lambda spec: spec["spec"].append(dict(spec["spec"][0])),
    "integer default text": lambda spec: spec["spec"].append(
        {"question_name": "n", "variable": "n", "type": "integer", "required": True, "default": "2"}),
    "secret as text": lambda spec: spec["spec"].append(
        {"question_name": "s", "variable": "client_secret", "type": "text", "required": True}),
    "no required": lambda spec: spec["spec"][0].pop("required"),
}


@pytest.mark.parametrize("fault", sorted(SURVEY_FAULTS))
def test_survey_rules_catch(fault):
    assert awx.survey_errors(_broken(SURVEY_FAULTS[fault], TEMPLATES["kubedisk.aks resize"]["survey_spec"]))


def test_a_question_nothing_reads_is_caught():
    template = copy.deepcopy(TEMPLATES["kubedisk.aks drain"])
    template["survey_spec"]["spec"].append({"question_name": "Typo", "variable": "node_maintenance_node", "type": "text",
                                            "required": False})
    read = read_by_playbook(template["playbook"])
    assert not survey_variables(template) <= read | awx.template_variables(template["extra_vars"])


@pytest.mark.parametrize(("name", "inputs", "variable", "content"), [
    ("Azure workload identity (federated token)",
     {"subscription": "s", "tenant": "t", "client": "c", "federated_token": "eyJ.token"}, "AZURE_FEDERATED_TOKEN_FILE", "eyJ.token"),
    ("Azure Resource Manager CA bundle", {"ca_bundle": "-----BEGIN CERTIFICATE-----\n"}, "AZURE_CA_BUNDLE",
     "-----BEGIN CERTIFICATE-----\n"),
    ("Kubeconfig", {"kubeconfig": "apiVersion: v1\nkind: Config\n"}, "K8S_AUTH_KUBECONFIG", "apiVersion: v1\nkind: Config\n"),
])
def test_file_injectors_write_the_input_to_a_private_file(tmp_path, name, inputs, variable, content):
    (tmp_path / "env").mkdir()
    env = awx.inject_custom(CREDENTIAL_TYPES[name], inputs, str(tmp_path))
    path = env[variable]
    assert os.path.dirname(path) == str(tmp_path / "env")
    with open(path, encoding="utf-8") as handle:
        assert handle.read() == content
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o007 == 0
    assert all(value for value in env.values()), "an injected variable is empty"


def test_the_azure_credentials_inject_what_the_modules_read():
    """Every variable an Azure credential injects is one the modules' options fall back to."""
    source = (awx.ROOT / "plugins" / "module_utils" / "azure_auth.py").read_text(encoding="utf-8")
    fallbacks = set(re.findall(r'"(AZURE_[A-Z_]+|REQUESTS_CA_BUNDLE)"', source))
    injected = set(awx.inject_azure_rm({"subscription": "s", "client": "c", "tenant": "t", "secret": "x",
                                        "cloud_environment": "https://arm.example"}))
    for name in ("Azure workload identity (federated token)", "Azure Resource Manager CA bundle"):
        injected |= set(CREDENTIAL_TYPES[name]["injectors"]["env"])
    assert injected <= fallbacks
