"""The command line, as a person would type it, on a SQLite file."""

from __future__ import annotations

import re

SALES = "sales@demo-partner.example"


def test_start_a_trial_and_list_customers(run) -> None:  # type: ignore[no-untyped-def]
    out = run(
        "trial",
        "start",
        "--as",
        SALES,
        "--company",
        "Acme",
        "--admin-email",
        "ann@acme.example",
        "--vertical",
        "retail",
        "--country",
        "FR",
        "--supported-location",
        "--service",
        "meetings:enterprise",
        "--service",
        "messaging",
        "--licenses",
        "25",
        "--site",
        "acme-cli.webex.com",
        "--time-zone",
        "Europe/Paris",
    )
    assert "is active" in out
    table = run("customers", "--as", SALES)
    assert "Acme" in table
    assert "European Union" in table
    assert "meetings, messaging" in table


def test_bad_input_prints_the_rule_and_exits_1(run) -> None:  # type: ignore[no-untyped-def]
    out = run(
        "trial",
        "start",
        "--as",
        SALES,
        "--company",
        "Acme",
        "--admin-email",
        "ann@acme.example",
        "--vertical",
        "retail",
        "--country",
        "CU",
        "--supported-location",
        "--service",
        "messaging",
        "--licenses",
        "5",
        ok=False,
    )
    assert "rule C1" in out
    assert "customer.country" in out


def test_partner_admin_and_token(run) -> None:  # type: ignore[no-untyped-def]
    out = run("partner", "create", "--name", "Tier Two", "--tier", "2", "--distributor", "Dist")
    partner_id = re.search(r"ptn_[0-9a-f]+", out).group(0)  # type: ignore[union-attr]
    run(
        "admin",
        "create",
        "--partner",
        partner_id,
        "--email",
        "t2@x.example",
        "--name",
        "T",
        "--role",
        "sales_admin",
    )
    token = run("admin", "token", "t2@x.example").strip()
    assert token.startswith("th_")
    out = run(
        "admin",
        "create",
        "--partner",
        partner_id,
        "--email",
        "bad",
        "--name",
        "T",
        "--role",
        "wizard",
        ok=False,
    )
    assert "email" in out
    assert "roles[0]" in out


def test_existing_customer_consent_round_trip(run) -> None:  # type: ignore[no-untyped-def]
    # Globex (demo) has hank@ as full admin and homer@ as a user: rule K1 sends to both
    globex = "trial start --as {} --company X --admin-email homer@globex.example --vertical retail"
    args = [*globex.format(SALES).split(), "--country", "DE", "--supported-location"]
    args += ["--service", "calling", "--licenses", "5"]
    preview = run(
        "trial",
        "preview",
        "--as",
        SALES,
        "--admin-email",
        "homer@globex.example",
        "--country",
        "DE",
    )
    assert "Existing organization: Globex" in preview
    assert "Webex Meetings: cannot: The customer already purchased this service." in preview
    out = run(*args, ok=False)
    assert "rule C3" in out
    org_id = re.search(r"confirm_existing_org_id=(org_[0-9a-f]+)", out).group(1)  # type: ignore[union-attr]
    out = run(*args, "--confirm-org", org_id)
    assert "pending customer consent" in out
    trial_id = re.search(r"trl_[0-9a-f]+", out).group(0)  # type: ignore[union-attr]
    customer_id = re.search(r"cus_[0-9a-f]+", out).group(0)  # type: ignore[union-attr]
    assert "/consent/" not in run("outbox")  # a link is a credential: only the email has it
    run("worker", "--once")  # delivers the emails to the local mailbox
    mail = run("mail")
    links = dict(re.findall(r"(\w+)@globex\.example.*?/consent/([\w-]+)", mail))
    assert set(links) == {"hank", "homer"}
    assert "rule K2" in run("consent", "accept", links["homer"], ok=False)
    assert "Globex" in run("consent", "show", links["hank"])
    run("consent", "accept", links["hank"], "--provisioning-only")
    assert "is active" in run("trial", "provision", trial_id, "--as", SALES)
    out = run(
        "customer",
        "add-user",
        customer_id,
        "--as",
        SALES,
        "--email",
        "n@globex.example",
        "--name",
        "N",
        ok=False,
    )
    assert "rule K3" in out
    run("trial", "extend", trial_id, "--as", SALES, "--reason", "pilot")
    assert "extended" in run("trial", "show", trial_id, "--as", SALES)
    timeline = run("trial", "timeline", trial_id, "--as", SALES)
    assert "trial.consent_requested" in timeline
    assert "Calling phone numbers released" in timeline
    assert "rule S4" in run(
        "trial", "services", trial_id, "--as", SALES, "--remove", "calling", ok=False
    )
    assert "deleted" in run("trial", "delete", trial_id, "--as", SALES, "--yes")
    run(
        "admin",
        "create",
        "--partner",
        _demo_partner_id(),
        "--email",
        "pa@demo.example",
        "--name",
        "PA",
        "--role",
        "partner_admin",
    )
    assert "now manages" in run(
        "customer", "assign", customer_id, "--as", SALES, "--admin", "pa@demo.example"
    )
    assert "Globex" in run("customer", "show", customer_id, "--as", "pa@demo.example")


def _demo_partner_id() -> str:
    import os

    from sqlalchemy import create_engine, text

    engine = create_engine(os.environ["TRIALHUB_DATABASE_URL"])
    with engine.connect() as conn:
        found = conn.execute(text("select id from partners where name = 'Demo Partner'"))
        partner_id = str(found.scalar_one())
    engine.dispose()
    return partner_id


def test_demo_prints_the_organizations_to_try(run) -> None:  # type: ignore[no-untyped-def]
    out = run("demo")
    assert "Demo organizations" in out
    assert re.search(r"Globex \(European Union\), org_[0-9a-f]+", out)
    assert "hank@globex.example" in out
    assert "casey@gmail.example" in out


def test_webhooks_from_the_command_line(run) -> None:  # type: ignore[no-untyped-def]
    assert "Webhooks" in run("webhook", "list", "--as", SALES)
    assert "No such webhook" in run("webhook", "enable", "whk_nosuch", "--as", SALES, ok=False)


def test_zero_is_a_wrong_answer_not_the_default(run) -> None:  # type: ignore[no-untyped-def]
    # rule T1: --duration 0 is refused, it does not quietly become 90 days
    args = ["trial", "start", "--as", SALES, "--company", "Zero", "--admin-email", "z@zero.example"]
    args += ["--vertical", "retail", "--country", "FR", "--supported-location"]
    out = run(*args, "--service", "messaging", "--licenses", "5", "--duration", "0", ok=False)
    assert "duration_days" in out
    assert "rule T1" in out
    assert "Zero" not in run("customers", "--as", SALES)
    # the same family: zero messages is not "all of them", port 0 is not the default port
    assert "Invalid value" in run("outbox", "--limit", "0", ok=False)
    assert "Invalid value" in run("mail", "--limit", "0", ok=False)
    assert "Invalid value" in run("serve", "--port", "0", ok=False)
