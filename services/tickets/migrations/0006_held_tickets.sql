-- Guests' tickets held until confirmed (issue 11): a guest who files with the address of an
-- existing contact gets an unverified ticket. Staff see it, marked so; the contact, her group and
-- their lists, searches and counts do not, and no TicketCreated (so no acknowledgement) is sent
-- until identity's GuestTicketConfirmed releases it. Unconfirmed ones stay for staff to judge.
ALTER TABLE tickets ADD COLUMN unverified boolean NOT NULL DEFAULT false;
