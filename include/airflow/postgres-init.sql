CREATE DATABASE crm_ledger;
