"""ARM contract details clients rely on, checked through the unmodified Azure SDKs or raw HTTP against the emulator:
cloud metadata per api-version.
"""


def _metadata(lab, api_version=None):
    return lab.admin("GET", "../metadata/endpoints", params={"api-version": api_version} if api_version else {})


def test_metadata_endpoints_per_api_version(lab):
    clouds = _metadata(lab, "2019-05-01").json()
    assert isinstance(clouds, list) and len(clouds) == 1
    listed = clouds[0]
    assert set(listed) == {"name", "portal", "authentication", "media", "graphAudience", "graph", "suffixes", "batch", "resourceManager",
                           "vmImageAliasDoc", "activeDirectoryDataLake", "sqlManagement", "gallery"}
    assert set(listed["authentication"]) == {"loginEndpoint", "audiences", "tenant", "identityProvider"}
    assert listed["resourceManager"] == lab.url + "/" and listed["authentication"]["tenant"] == lab.info["tenant"]
    assert {"storage", "keyVaultDns", "acrLoginServer", "sqlServerHostname"} <= set(listed["suffixes"])
    current = _metadata(lab, "2022-09-01").json()
    assert isinstance(current, dict) and current["name"] == listed["name"] and current["resourceManager"] == listed["resourceManager"]
    assert current["authentication"] == listed["authentication"] and current["microsoftGraphResourceId"]
    assert set(listed) < set(current) and set(listed["suffixes"]) < set(current["suffixes"])
    legacy = _metadata(lab, "2015-01-01").json()
    assert set(legacy) == {"galleryEndpoint", "graphEndpoint", "portalEndpoint", "authentication"}
    assert legacy["authentication"]["loginEndpoint"] == lab.url + "/" and legacy["authentication"]["audiences"]
    missing = _metadata(lab)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "MissingApiVersionParameter"

