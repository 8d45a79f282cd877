"""The AWX / Automation Controller material of extensions/awx, and the controller's rules for it.

What the tests check the material against, written from the controller's documented behaviour: its format rules
for credential types (inputs and injectors) and survey specs, how it renders a credential's injectors into a
job's environment (the custom types' Jinja templates, the built-in "Microsoft Azure Resource Manager" type), and
how it builds a job's extra vars from the template's extra_vars and the survey answers.
"""

import os
import pathlib
import re
import stat
import tempfile

import yaml
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parents[2]
AWX = ROOT / "extensions" / "awx"

# The controller's survey question types and the Python types of their answers and defaults.
SURVEY_TYPES = {"text": str, "textarea": str, "password": str, "integer": int, "float": (int, float),
                "multiplechoice": str, "multiselect": str}
# Names the controller accepts for a credential field, an injected environment variable or extra var.
NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
FILE_TEMPLATE = re.compile(r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$")
# Credential kinds a custom credential type may have (the controller keeps the others for its built-in types).
CUSTOM_KINDS = ("cloud", "net")
# Environment variables no credential may set: the controller's own job settings, and Ansible's configuration.
RESERVED_ENV = ("VIRTUAL_ENV", "PATH", "PYTHONPATH", "JOB_ID", "INVENTORY_ID", "INVENTORY_SOURCE_ID", "INVENTORY_UPDATE_ID",
                "AD_HOC_COMMAND_ID", "REST_API_URL", "REST_API_TOKEN", "MAX_EVENT_RES", "CALLBACK_QUEUE", "CALLBACK_CONNECTION",
                "CACHE", "JOB_CALLBACK_DEBUG", "INVENTORY_HOSTVARS", "AWX_HOST", "PROJECT_REVISION", "SUPERVISOR_CONFIG_PATH")
# Words that mark a value as a secret: such a survey question must be a password, such a credential field secret
# (as must a kubeconfig, which carries the cluster's credentials).
SECRET_WORDS = re.compile(r"token|secret|password|private_key", re.IGNORECASE)
FIELD_KEYS = {"id", "label", "type", "format", "choices", "help_text", "multiline", "secret", "ask_at_runtime", "default"}
QUESTION_KEYS = {"question_name", "question_description", "variable", "type", "required", "default", "choices", "min", "max",
                 "new_question"}

_jinja = ImmutableSandboxedEnvironment()


class _AnyName(dict):
    """Filters or tests of any name: Ansible's own are unknown to plain Jinja, which refuses to compile them."""

    def __contains__(self, name):
        return True

    def __missing__(self, name):
        return lambda *arguments, **options: None

    def get(self, name, default=None):
        return self[name]


# Reads templates for the names they use, Ansible's filters and tests included; renders nothing.
_jinja_reader = ImmutableSandboxedEnvironment()
_jinja_reader.filters = _AnyName(_jinja_reader.filters)
_jinja_reader.tests = _AnyName(_jinja_reader.tests)


def credential_types():
    """The custom credential types of extensions/awx/credential_types.yml."""
    return yaml.safe_load((AWX / "credential_types.yml").read_text(encoding="utf-8"))["kubedisk_awx_credential_types"]


def job_templates():
    """The job templates of extensions/awx/job_templates.yml."""
    return yaml.safe_load((AWX / "job_templates.yml").read_text(encoding="utf-8"))["kubedisk_awx_job_templates"]


def inventory_host_vars():
    """The variables of the controller inventory's localhost (extensions/awx/inventory.yml)."""
    return yaml.safe_load((AWX / "inventory.yml").read_text(encoding="utf-8"))


def template_variables(value):
    """Names a Jinja template (or every string in a nested value) reads."""
    if isinstance(value, str):
        return meta.find_undeclared_variables(_jinja_reader.parse(value)) if "{" in value else set()
    if isinstance(value, dict):
        return set().union(set(), *(template_variables(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(set(), *(template_variables(item) for item in value))
    return set()


def credential_type_errors(credential_type):
    """What the controller would refuse in a custom credential type, as messages (empty when it accepts it)."""
    errors = []
    name = credential_type.get("name", "?")
    for key in ("name", "kind", "inputs", "injectors"):
        if key not in credential_type:
            errors.append("%s: no %s" % (name, key))
    if credential_type.get("kind") not in CUSTOM_KINDS:
        errors.append("%s: kind %r is not one of %s" % (name, credential_type.get("kind"), CUSTOM_KINDS))
    inputs = credential_type.get("inputs", {})
    errors += ["%s: inputs key %r unknown" % (name, key) for key in set(inputs) - {"fields", "required"}]
    fields = inputs.get("fields", [])
    ids = [field.get("id") for field in fields]
    if len(ids) != len(set(ids)):
        errors.append("%s: field ids repeat" % name)
    for field in fields:
        field_id = field.get("id", "?")
        errors += ["%s.%s: unknown key %r" % (name, field_id, key) for key in set(field) - FIELD_KEYS]
        if "label" not in field or not NAME.match(str(field_id)) or field_id == "tower":
            errors.append("%s.%s: needs a label and an id that is a variable name other than tower" % (name, field_id))
        kind = field.get("type", "string")
        if kind not in ("string", "boolean"):
            errors.append("%s.%s: type %r" % (name, field_id, kind))
        if kind == "boolean" and set(field) & {"choices", "multiline", "format", "secret"}:
            errors.append("%s.%s: choices, multiline, format or secret on a boolean" % (name, field_id))
        if "default" in field and not isinstance(field["default"], bool if kind == "boolean" else str):
            errors.append("%s.%s: default is not a %s" % (name, field_id, kind))
        if (SECRET_WORDS.search(field_id) or field_id == "kubeconfig") and not field.get("secret"):
            errors.append("%s.%s: holds a secret but is not secret" % (name, field_id))
    errors += ["%s: required %r is not a field" % (name, key) for key in inputs.get("required", []) if key not in ids]
    injectors = credential_type.get("injectors", {})
    errors += ["%s: injectors key %r unknown" % (name, key) for key in set(injectors) - {"file", "env", "extra_vars"}]
    files = list(injectors.get("file", {}))
    errors += ["%s: file injector %r" % (name, key) for key in files if not FILE_TEMPLATE.match(key)]
    if "template" in files and len(files) > 1:
        errors.append("%s: an unnamed file template with named ones" % name)
    for env_name, value in injectors.get("env", {}).items():
        if not NAME.match(env_name) or env_name.startswith("ANSIBLE_") or env_name in RESERVED_ENV:
            errors.append("%s: environment variable %s may not be injected" % (name, env_name))
        if not value.isascii():
            errors.append("%s: %s is not ASCII" % (name, env_name))
    errors += ["%s: extra var %s" % (name, key) for key in injectors.get("extra_vars", {}) if not NAME.match(key)]
    for key, value in _injector_templates(injectors):
        unknown = template_variables(value) - set(ids) - {"tower"}
        if unknown:
            errors.append("%s: %s reads %s, which are no inputs" % (name, key, sorted(unknown)))
        if "tower.filename" in value and not files:
            errors.append("%s: %s reads tower.filename without a file injector" % (name, key))
    return errors


def _injector_templates(injectors):
    for section in ("file", "env", "extra_vars"):
        for key, value in injectors.get(section, {}).items():
            yield "%s.%s" % (section, key), value


def survey_errors(survey):
    """What the controller would refuse in a survey spec, as messages (empty when it accepts it)."""
    errors = ["survey: no %s" % key for key in ("name", "description", "spec") if not isinstance(survey.get(key), (str, list))]
    spec = survey.get("spec", [])
    if not isinstance(spec, list) or not spec:
        return errors + ["survey: spec must be a non-empty list"]
    variables = [question.get("variable") for question in spec]
    if len(variables) != len(set(variables)):
        errors.append("survey: variables repeat")
    for question in spec:
        where = "question %s" % question.get("variable")
        errors += ["%s: unknown key %r" % (where, key) for key in set(question) - QUESTION_KEYS]
        for key in ("question_name", "variable", "type", "required"):
            if key not in question:
                errors.append("%s: no %s" % (where, key))
        kind = question.get("type")
        if kind not in SURVEY_TYPES:
            errors.append("%s: type %r" % (where, kind))
            continue
        if not NAME.match(str(question.get("variable"))):
            errors.append("%s: not a variable name" % where)
        if not isinstance(question.get("required"), bool):
            errors.append("%s: required is not a bool" % where)
        if SECRET_WORDS.search(str(question.get("variable"))) and kind != "password":
            errors.append("%s: asks for a secret but is not a password" % where)
        choices = question.get("choices")
        if kind in ("multiplechoice", "multiselect"):
            choices = choices.split("\n") if isinstance(choices, str) else choices
            if not choices or not all(isinstance(choice, str) for choice in choices):
                errors.append("%s: needs choices" % where)
        elif choices is not None:
            errors.append("%s: choices on a %s question" % (where, kind))
        if "default" in question and question["default"] != "":
            errors += ["%s: %s" % (where, message) for message in answer_errors(question, question["default"])]
    return errors


def answer_errors(question, value):
    """Why the controller would refuse ``value`` as the answer (or default) of a survey question."""
    kind = question["type"]
    if not isinstance(value, SURVEY_TYPES[kind]) or isinstance(value, bool):
        return ["%r is not a %s answer" % (value, kind)]
    if kind in ("multiplechoice", "multiselect"):
        choices = question["choices"].split("\n") if isinstance(question["choices"], str) else question["choices"]
        picked = value.split("\n") if kind == "multiselect" else [value]
        return ["%r is not among the choices %s" % (item, choices) for item in picked if item not in choices]
    low, high = question.get("min"), question.get("max")
    measure = len(value) if isinstance(value, str) else value
    if (low is not None and measure < low) or (high is not None and measure > high):
        return ["%r is outside %s..%s" % (value, low, high)]
    return []


def job_extra_vars(template, answers):
    """The extra vars of a job launched from ``template`` with survey ``answers``, as the controller builds them:
    the template's extra_vars, then each answer (checked against its question) or the default of an unanswered
    question. Raises ValueError for an answer to no question, a refused answer or a required question unanswered."""
    questions = {question["variable"]: question for question in template["survey_spec"]["spec"]}
    unknown = set(answers) - set(questions)
    if unknown:
        raise ValueError("answers to no question of %s: %s" % (template["name"], sorted(unknown)))
    extra_vars = dict(template.get("extra_vars") or {})
    for variable, question in questions.items():
        if variable in answers:
            errors = answer_errors(question, answers[variable])
            if errors:
                raise ValueError("%s: %s" % (variable, "; ".join(errors)))
            extra_vars[variable] = answers[variable]
        elif "default" in question:
            extra_vars[variable] = question["default"]
        elif question["required"]:
            raise ValueError("%s: required and unanswered" % variable)
    return extra_vars


def _credential_file(private_data_dir, content):
    """A file in the job's env/ folder readable by its owner and group, as the controller writes credential files."""
    handle, path = tempfile.mkstemp(dir=os.path.join(private_data_dir, "env"))
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(content)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IWGRP)
    return path


def inject_custom(credential_type, inputs, private_data_dir):
    """The environment a credential of a custom type gives a job: its file templates rendered into files of the
    job's env/ folder (``tower.filename``), then its env templates. Extra vars injectors are not used here."""
    missing = [key for key in credential_type["inputs"].get("required", []) if key not in inputs]
    if missing:
        raise ValueError("%s: inputs %s are required" % (credential_type["name"], missing))
    injectors = credential_type["injectors"]
    files = {key: _credential_file(private_data_dir, _jinja.from_string(template).render(**inputs))
             for key, template in injectors.get("file", {}).items()}
    filename = files.get("template") or {key.split(".", 1)[1]: path for key, path in files.items()}
    namespace = dict(inputs, tower={"filename": filename})
    return {key: _jinja.from_string(template).render(**namespace) for key, template in injectors.get("env", {}).items()}


def inject_azure_rm(inputs):
    """The environment the built-in "Microsoft Azure Resource Manager" credential gives a job: the subscription, a
    service principal (client, secret, tenant) when client and tenant are set, else a user and password, and the
    cloud environment when set."""
    env = {"AZURE_SUBSCRIPTION_ID": inputs.get("subscription", "")}
    if inputs.get("client") and inputs.get("tenant"):
        env.update(AZURE_CLIENT_ID=inputs["client"], AZURE_TENANT=inputs["tenant"], AZURE_SECRET=inputs.get("secret", ""))
    else:
        env.update(AZURE_AD_USER=inputs.get("username", ""), AZURE_PASSWORD=inputs.get("password", ""))
    if inputs.get("cloud_environment"):
        env["AZURE_CLOUD_ENVIRONMENT"] = inputs["cloud_environment"]
    return env
