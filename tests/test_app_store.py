"""The app's own data store (issue 8 item 11): chosen by configuration, SQLite under APP_DATA_DIR locally,
Azure Table Storage on Azure (tested for real against Azurite), booking once per key under retries and
races; and a whole plan_trip job on the real host that books into Azurite."""
from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.identity import DefaultAzureCredential

from orchestrations.app_data.bookings import SqliteBookings, TableBookings, booking_store
from orchestrations.app_data.storage import (StorageNotConfigured, StorageSettings, blob_service, storage_settings,
                                             table_service)
from orchestrations.app_data.workspaces import LocalWorkspaces
from testing.host_process import PROJECT_ROOT, project_host
from testing.mcp_client import call, connect, wait_until

from .test_trip import REQUEST, trip_script


def test_the_configuration_chooses_the_store(tmp_path):
    # the app folder's .appdata/, as the README says (it was orchestrations/.appdata/ after a move)
    assert storage_settings({}) == StorageSettings("local", PROJECT_ROOT / ".appdata")
    assert storage_settings({"APP_DATA_DIR": str(tmp_path)}).data_dir == tmp_path
    by_key = storage_settings({"APP_STORAGE": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=secret"})
    assert by_key.kind == "azure" and by_key.connection_string and "secret" not in by_key.description
    by_identity = storage_settings({"APP_STORAGE__tableServiceUri": "https://acct.table.core.windows.net",
                                    "APP_STORAGE__blobServiceUri": "https://acct.blob.core.windows.net",
                                    "APP_STORAGE__clientId": "1111", "AZURE_CLIENT_ID": "2222"})
    assert (by_identity.kind, by_identity.client_id, by_identity.connection_string) == ("azure", "1111", None)
    assert storage_settings({"APP_STORAGE__tableServiceUri": "https://t", "AZURE_CLIENT_ID": "2222"}).client_id == "2222"
    tables, blobs = table_service(by_identity), blob_service(by_identity)
    assert tables.url == "https://acct.table.core.windows.net" and blobs.url.startswith("https://acct.blob.")
    assert isinstance(tables.credential, DefaultAzureCredential) and isinstance(blobs.credential, DefaultAzureCredential)


def test_local_app_data_is_private_and_an_existing_folder_keeps_its_mode(tmp_path):
    """Bookings and generated code are job data like the host's state (issue 8 item 3): a data folder the
    app creates is 0700 (so what is in it is nobody else's); a folder that exists is left as it is."""
    SqliteBookings(tmp_path / "new" / "data").record("trip-1", {"city": "Oslo"})
    LocalWorkspaces(tmp_path / "other")
    assert [oct(stat.S_IMODE(p.stat().st_mode)) for p in (tmp_path / "new", tmp_path / "new" / "data",
            tmp_path / "other", tmp_path / "other" / "workspaces")] == [oct(0o700)] * 4
    os.chmod(tmp_path / "other", 0o755)
    LocalWorkspaces(tmp_path / "other")
    assert stat.S_IMODE((tmp_path / "other").stat().st_mode) == 0o755


def test_on_azure_without_configuration_the_store_says_what_to_set(tmp_path):
    with pytest.raises(StorageNotConfigured, match="APP_STORAGE__tableServiceUri and APP_STORAGE__blobServiceUri"):
        storage_settings({"WEBSITE_INSTANCE_ID": "abc"})
    # an explicit APP_DATA_DIR (a mounted share) is the user's choice
    assert storage_settings({"WEBSITE_INSTANCE_ID": "abc", "APP_DATA_DIR": str(tmp_path)}).kind == "local"
    with pytest.raises(StorageNotConfigured, match="APP_STORAGE__blobServiceUri is not set"):
        blob_service(storage_settings({"APP_STORAGE__tableServiceUri": "https://acct.table.core.windows.net"}))


@pytest.fixture(params=["sqlite", "azure-tables"])
def bookings(request, tmp_path):
    if request.param == "sqlite":
        return SqliteBookings(tmp_path)
    storage = request.getfixturevalue("azurite")
    store = booking_store(storage_settings({"APP_STORAGE": storage.connection_string}))
    assert isinstance(store, TableBookings)
    return store


def test_a_booking_is_recorded_once_however_often_it_is_retried(bookings, tmp_path):
    key = f"job-{tmp_path.name}"
    first = bookings.record(key, {"request": "Lyon", "comment": "window seats"})
    again = bookings.record(key, {"request": "another attempt"})  # a retried or re-run activity
    assert again == first and first["reference"].startswith("TRIP-") and first["details"]["request"] == "Lyon"
    with ThreadPoolExecutor(8) as pool:  # racing attempts (two instances) of a new booking
        raced = list(pool.map(lambda n: bookings.record(f"{key}-race", {"attempt": n}), range(8)))
    assert len({booking["reference"] for booking in raced}) == 1
    mine = [booking for booking in bookings.list() if booking["booking_key"].startswith(key)]
    assert sorted(booking["booking_key"] for booking in mine) == [key, f"{key}-race"]


def test_any_key_and_large_details_round_trip(bookings, tmp_path):
    key = f"a/b#c?d\\e\x01 {tmp_path.name}"  # characters Table Storage forbids in keys
    details = {"proposal": "é😀" * 60_000}  # far over one 64 KiB Table property
    booking = bookings.record(key, details)
    assert booking["booking_key"] == key and booking["details"] == details
    assert [b for b in bookings.list() if b["booking_key"] == key] == [booking]


async def test_plan_trip_books_in_azure_table_storage(tmp_path, model, site, azurite):
    """The whole job on the real host with the Azurite-backed store; a booking an earlier attempt already
    made (its completion lost) is returned, not made again; nothing is written under APP_DATA_DIR."""
    model.reset()
    model.script(trip_script())
    settings = storage_settings({"APP_STORAGE": azurite.connection_string})
    local = tmp_path / "appdata"
    host = project_host(tmp_path / "state", model, site, APP_STORAGE=azurite.connection_string,
                        APP_DATA_DIR=str(local)).start()
    try:
        async with connect(host) as client:
            approved = await call(client, "plan_trip", request=REQUEST)
            retried = await call(client, "plan_trip", request=REQUEST)
            for job in (approved, retried):
                await wait_until(client, job["job_id"], statuses=("waiting_for_input",))
            earlier = booking_store(settings).record(retried["job_id"], {"booked": "by an earlier attempt"})
            for job in (approved, retried):
                await call(client, "send_job_input", job_id=job["job_id"], event="approval",
                           data={"approved": True, "comment": "aisle"})
            done = [await wait_until(client, job["job_id"]) for job in (approved, retried)]
    finally:
        host.stop()
    assert [job["status"] for job in done] == ["completed", "completed"], done
    stored = {booking["booking_key"]: booking for booking in booking_store(settings).list()}
    booking = done[0]["output"]["booking"]
    assert stored[approved["job_id"]] == booking and booking["details"]["comment"] == "aisle"
    assert booking["details"]["proposal"]["itinerary"] == "Day 1-3 in Lyon"
    assert done[1]["output"]["booking"] == earlier == stored[retried["job_id"]]
    assert not local.exists(), "the Azure-configured app wrote local files"
