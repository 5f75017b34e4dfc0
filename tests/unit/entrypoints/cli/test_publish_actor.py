"""``dli workflow publish`` names the CI identity it runs as, for the audit trail, from the CI's environment."""

from __future__ import annotations

from dli.entrypoints.cli.publish_cmd import ci_actor


def test_github_actions_is_named_by_repository_commit_job_and_run():
    env = {
        "GITHUB_SHA": "0123456789abcdef",
        "GITHUB_JOB": "deploy",
        "GITHUB_REPOSITORY": "acme/p",
        "GITHUB_RUN_ID": "77",
    }
    assert ci_actor(env) == "acme/p@0123456789ab/deploy#77"


def test_gitlab_ci_is_named_by_project_commit_and_job():
    env = {"CI_COMMIT_SHA": "fedcba9876543210", "CI_JOB_ID": "4242", "CI_PROJECT_PATH": "acme/p"}
    assert ci_actor(env) == "acme/p@fedcba987654/job-4242"


def test_outside_ci_there_is_no_ci_identity():
    assert ci_actor({"HOME": "/root"}) is None
