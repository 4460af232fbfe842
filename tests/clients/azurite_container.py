"""Create a blob container in Azurite: azurite_container.py ENDPOINT ACCOUNT KEY NAME.

object_store cannot create containers, so tests/object_stores.rs uses the Azure SDK for
this one step and object_store for everything else.
"""
import sys

from azure.storage.blob import BlobServiceClient

endpoint, account, key, name = sys.argv[1:5]
service = BlobServiceClient(account_url=endpoint, credential={"account_name": account, "account_key": key})
service.create_container(name)
