-- A DirectLink SAL for less than what is left of an order captures that
-- part as a DEBIT of its own (payment.Service.CaptureAmount with keepRest),
-- parent_uuid the order's debit, in the payment of that debit, which stays
-- authorised for the rest: the payment then holds several live debits, one
-- authorization. transactions_payment_live (0003) keeps its purpose, one
-- payment attempt in flight or paid, for the debits that are no part.
DROP INDEX transactions_payment_live;
CREATE UNIQUE INDEX transactions_payment_live ON transactions (payment_id)
    WHERE operation_type IN ('DEBIT', 'VERIFICATION') AND status IN ('RUNNING', 'PAID') AND parent_uuid IS NULL;
